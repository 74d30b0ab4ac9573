"""``python -m applications.text_classifier VERB`` (as ``encore text_classifier VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("text_classifier"))
