"""``python -m applications.language_model VERB`` (as ``encore language_model VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("language_model"))
