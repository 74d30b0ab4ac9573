"""``python -m applications.pos_tagger VERB`` (as ``encore pos_tagger VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("pos_tagger"))
