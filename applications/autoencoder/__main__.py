import sys

from applications.autoencoder.commands import AutoencoderCommands
from applications.core.cli import main

sys.exit(main(AutoencoderCommands()))
