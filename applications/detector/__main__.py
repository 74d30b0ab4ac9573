"""``python -m applications.detector VERB`` (as ``encore detector VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("detector"))
