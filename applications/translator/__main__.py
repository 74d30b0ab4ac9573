import sys

from applications.core.cli import main
from applications.translator.commands import TranslatorCommands

sys.exit(main(TranslatorCommands()))
