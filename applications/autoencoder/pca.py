"""PCA in NumPy: the linear baseline an autoencoder's reconstruction is compared with."""

import numpy as np

CHUNK = 4096


def flat_pixels(images):
    """uint8 images as float64 rows ``[N, H*W*C]`` in [0, 1] (the autoencoder's scale)."""
    return images.reshape(len(images), -1) / 255.0


def fit_pca(images, dims):
    """Mean and the first ``dims`` principal directions ``[D, dims]`` of uint8 images.

    The scatter matrix is accumulated in chunks (60,000 MNIST images never exist as one
    float64 array), then decomposed with ``numpy.linalg.svd``: for a symmetric positive
    semi-definite matrix its left singular vectors are the eigenvectors, largest first.
    """
    count = len(images)
    features = int(np.prod(images.shape[1:]))
    if dims > min(count, features):
        raise ValueError(f"PCA with {dims} dimensions needs at least {dims} images of "
                         f"{dims} or more pixels")
    total = np.zeros(features)
    scatter = np.zeros((features, features))
    for start in range(0, count, CHUNK):
        rows = flat_pixels(images[start:start + CHUNK])
        total += rows.sum(axis=0)
        scatter += rows.T @ rows
    mean = total / count
    scatter -= count * np.outer(mean, mean)
    vectors, _, _ = np.linalg.svd(scatter, hermitian=True)
    return mean, vectors[:, :dims]


def pca_reconstruct(images, mean, components):
    """Project onto the components and back: float64 ``[N, D]`` in [0, 1] units."""
    rows = flat_pixels(images) - mean
    return (rows @ components) @ components.T + mean


def pca_mse(images, mean, components):
    """Mean squared error per pixel of the PCA reconstruction, computed in chunks."""
    squared, values = 0.0, 0
    for start in range(0, len(images), CHUNK):
        part = images[start:start + CHUNK]
        error = pca_reconstruct(part, mean, components) - flat_pixels(part)
        squared += float(np.square(error).sum())
        values += error.size
    return squared / values
