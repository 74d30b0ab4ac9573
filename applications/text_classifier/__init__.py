"""Text classification (many-to-one): ``python -m applications.text_classifier --help``."""
