"""``python -m applications.translator VERB`` (as ``encore translator VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("translator"))
