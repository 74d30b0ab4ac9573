"""The autoencoder's PNG figure: originals above their reconstructions."""

import numpy as np

from applications.autoencoder.pca import pca_reconstruct
from applications.core.plots import plot_image_rows


def plot_reconstructions(path, originals, reconstructions, mean, components, title=""):
    """Rows of ``originals``, the autoencoder's ``reconstructions`` and the PCA baseline's
    (``mean`` and ``components`` from :func:`~applications.autoencoder.pca.fit_pca`)."""
    pca_images = np.clip(np.round(pca_reconstruct(originals, mean, components) * 255), 0, 255)
    plot_image_rows(path, [
        ("original", originals),
        ("autoencoder", reconstructions),
        (f"PCA {components.shape[1]}", pca_images.astype(np.uint8).reshape(originals.shape))],
        title)
