import sys

from applications.core.cli import main
from applications.pos_tagger.commands import TaggerCommands

sys.exit(main(TaggerCommands()))
