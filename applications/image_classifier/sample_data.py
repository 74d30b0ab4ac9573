"""The classifier's embedded default data: the labelled shape images of
:mod:`data.shape_images` (four classes), drawn at run time."""

from data.shape_images import SHAPES, generate_shapes, shape_sets

__all__ = ["SHAPES", "generate_shapes", "sample_sets"]


def sample_sets():
    """The embedded ``(train, dev)`` sets as ``(images, labels)`` pairs."""
    return shape_sets()
