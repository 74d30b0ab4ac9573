"""Language models (next token): ``python -m applications.language_model --help``."""
import sys

from applications.core.cli import main
from applications.language_model.commands import LanguageModelCommands

sys.exit(main(LanguageModelCommands()))
