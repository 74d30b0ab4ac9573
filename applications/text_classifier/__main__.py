import sys

from applications.core.cli import main
from applications.text_classifier.commands import ClassifierCommands

sys.exit(main(ClassifierCommands()))
