import sys

from applications.anomaly_detector.commands import DetectorCommands
from applications.core.cli import main

sys.exit(main(DetectorCommands()))
