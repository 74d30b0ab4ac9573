"""The autoencoder's embedded default data: the shape images of :mod:`data.shape_images`,
drawn at run time, without their labels (an autoencoder needs none)."""

from data.shape_images import shape_sets


def sample_sets():
    """The embedded ``(train, dev)`` sets as ``(images, None)`` pairs."""
    (train, _), (dev, _) = shape_sets()
    return (train, None), (dev, None)
