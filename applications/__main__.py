"""``python -m applications APPLICATION VERB [options]``: the same as ``encore``."""

import sys

from applications.main import main

sys.exit(main(prog="python -m applications"))
