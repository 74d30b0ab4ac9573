"""``python -m applications.video_classifier VERB`` (as ``encore video_classifier VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("video_classifier"))
