"""``python -m applications.image_classifier VERB`` (as ``encore image_classifier VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("image_classifier"))
