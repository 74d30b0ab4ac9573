"""Image classification (CNN): ``python -m applications.image_classifier --help``."""
