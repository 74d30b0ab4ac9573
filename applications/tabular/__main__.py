"""``python -m applications.tabular VERB`` (as ``encore tabular VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("tabular"))
