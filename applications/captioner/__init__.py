"""Image captioning (CNN grid -> attention decoder): ``python -m applications.captioner --help``."""
