"""``python -m applications.autoencoder VERB`` (as ``encore autoencoder VERB``)."""

import sys

from applications.main import run_application

sys.exit(run_application("autoencoder"))
