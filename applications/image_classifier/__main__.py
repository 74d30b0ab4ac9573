import sys

from applications.core.cli import main
from applications.image_classifier.commands import ImageClassifierCommands

sys.exit(main(ImageClassifierCommands()))
