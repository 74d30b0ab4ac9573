"""Object detection (a single-shot grid detector): ``python -m applications.detector --help``."""
