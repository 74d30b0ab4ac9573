import sys

from applications.autoencoder.commands import AutoencoderCommands
from applications.cli import main

sys.exit(main(AutoencoderCommands()))
