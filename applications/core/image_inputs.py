"""The command line's image inputs, shared by the vision applications: the IDX label flags
and reading ``--train`` / ``--dev`` (or an application's embedded samples) with the
``image_size``, ``channels`` and ``dev_split`` options."""

from applications.core import progress
from applications.core.config import UsageError
from data.image_sets import read_input, subset
from data.images import ImageSet
from data.splits import held_out_split

SAMPLES = "<embedded shapes>"


# The largest side a model's input may have: a batch of 4096 x 4096 RGB images already
# takes 50 MB an image.
LARGEST_SIDE = 4096


def check_image_side(value, name, smallest=1):
    """UsageError unless ``value`` is a whole number of pixels in
    ``[smallest, LARGEST_SIDE]``."""
    if (isinstance(value, bool) or not isinstance(value, int)
            or not smallest <= value <= LARGEST_SIDE):
        raise UsageError(f"{name} must be a whole number of pixels from {smallest} to "
                         f"{LARGEST_SIDE}, not {value!r}")


def check_image_size(value, name="image_size"):
    """UsageError unless ``value`` is ``[]`` (from the data) or ``[height, width]`` of
    :func:`check_image_side` sides."""
    if not value:
        return
    if not isinstance(value, list) or len(value) != 2:
        raise UsageError(f"{name} must be [height, width], not {value!r}")
    for side in value:
        check_image_side(side, name)


def add_image_data_arguments(verb, parser):
    """The label-file flags IDX inputs need, and ``evaluate --report``."""
    if verb == "train":
        parser.add_argument("--train-labels", help="IDX labels file for IDX --train images")
        parser.add_argument("--dev-labels", help="IDX labels file for IDX --dev images")
    if verb == "evaluate":
        parser.add_argument("--labels", help="IDX labels file for IDX --data images")
        parser.add_argument("--report", help="folder for evaluation.json and the PNG "
                            "(default: the --model folder)")


def read_train_and_dev(args, config, sample_sets, shape=None, require_labels=True):
    """``(train, dev or None)`` image sets from ``--train``/``--dev`` (+ labels) or the samples.

    Every file is read and checked here, before the caller writes anything.

    Args:
        args: the parsed ``train`` flags (``train``, ``dev``, ``train_labels``, ``dev_labels``).
        config: the application's config (``dev_split``, ``seed``, ``image_size``,
            ``channels``).
        sample_sets: the application's embedded data, a function returning
            ``((images, labels), (images, labels))`` (labels may be None); used without
            ``--train``.
        shape: the input size to resize folder images to (a resumed run's or an initial
            model's); without it the ``image_size`` and ``channels`` options, then the first
            training image, decide.
        require_labels: False for applications that need images only.
    """
    if args.train_labels and not args.train:
        raise UsageError("--train-labels goes with --train")
    if args.dev_labels and not args.dev:
        raise UsageError("--dev-labels goes with --dev")
    check_image_size(config.image_size)
    if config.channels not in (0, 1, 3):
        raise UsageError(f"channels must be 1, 3 or 0 (from the data), not {config.channels}")
    if args.train:
        train = read_input(args.train, args.train_labels, shape, require_labels,
                           config.image_size or None, config.channels or None)
    else:
        (images, labels), _ = sample_sets()
        train = ImageSet(images, labels, None, SAMPLES)
    shape = tuple(train.images.shape[1:])
    dev = None
    if args.dev:
        dev = read_input(args.dev, args.dev_labels, shape, require_labels)
    elif args.train and config.dev_split > 0:
        kept, held = held_out_split(len(train.images), config.dev_split, config.seed)
        progress.held_out(args.train, len(held), len(train.images), "images",
                          config.dev_split, config.seed)
        if len(held):  # a few images may hold out none: no dev then
            train, dev = subset(train, kept), subset(train, held)
    elif not args.train:
        _, (images, labels) = sample_sets()
        dev = ImageSet(images, labels, None, SAMPLES)
    return train, dev
