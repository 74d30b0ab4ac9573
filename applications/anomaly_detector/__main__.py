"""``python -m applications.anomaly_detector VERB`` (as ``encore anomaly_detector VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("anomaly_detector"))
