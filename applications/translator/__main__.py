import sys

from applications.cli import main
from applications.translator.commands import TranslatorCommands

sys.exit(main(TranslatorCommands()))
