"""``python -m applications.captioner VERB`` (as ``encore captioner VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("captioner"))
