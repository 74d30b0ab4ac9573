"""Image autoencoders (dense or convolutional): ``python -m applications.autoencoder --help``."""
