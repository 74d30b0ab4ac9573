"""From clip files to the video classifier's batches, and the metadata the model keeps."""

import numpy as np

from applications.core import progress
from applications.core.config import UsageError
from applications.video_classifier.sample_data import sample_sets
from data.errors import InputError
from data.image_sets import label_order
from data.splits import held_out_split
from data.video_batches import clip_batches
from data.video_sets import VideoSet, read_video_set

SAMPLES = "embedded sample clips"


def read_options(config, meta=None):
    """Keyword arguments of :func:`read_video_set` from the config (and a model's metadata,
    whose frame size and channels every later input is fitted to)."""
    size = list(config["frame_size"]) or None
    channels = config["channels"] or None
    if meta is not None:
        size, channels = [meta["height"], meta["width"]], meta["channels"]
    return {"frames": config["frames"], "fps": config["fps"], "size": size,
            "channels": channels}


def in_memory_set(clips, lengths, frame_labels, clip_labels, name=SAMPLES):
    """A :class:`VideoSet` over arrays already in memory (the embedded samples)."""
    return VideoSet(name, [str(i) for i in range(len(clips))], lambda i: clips[i, :lengths[i]],
                    lengths, [str(c) for c in clip_labels],
                    [list(row[:n]) for row, n in zip(frame_labels, lengths)])


def read_train_and_dev(args, config, meta=None):
    """``(train, dev or None)`` video sets: ``--train`` / ``--dev`` or the embedded samples."""
    if not args.train:
        if args.dev or args.labels or args.dev_labels:
            raise UsageError("--dev and --labels go with --train")
        train, dev = sample_sets()
        return in_memory_set(*train), in_memory_set(*dev, name=SAMPLES + " (dev)")
    options = read_options(config.to_dict(), meta)
    train = read_video_set(args.train, args.labels, **options)
    if options["size"] is None:  # the dev set is fitted to the training clips' frames
        first = train.read(0)
        options["size"], options["channels"] = list(first.shape[1:3]), first.shape[3]
    if args.dev:
        return train, read_video_set(args.dev, args.dev_labels, **options)
    if config.dev_split > 0:
        kept, held = held_out_split(len(train), config.dev_split, config.seed)
        progress.held_out(args.train, len(held), len(train), "clips", config.dev_split,
                          config.seed)
        if len(held):  # a few clips may hold out none: no dev then
            return train.subset(kept), train.subset(held)
    return train, None


def metadata_from(train, held=None):
    """The metadata a model is built with: frame shape, label names, training size.

    ``held`` (the clips of the training file held out as dev) adds its label names, so a
    label only held-out clips have is still a label.
    """
    shape = train.read(0).shape[1:]
    names = {}
    for kind in ("frame", "clip"):
        found = set(getattr(train, f"{kind}_label_names")())
        if held is not None:
            found |= set(getattr(held, f"{kind}_label_names")())
        names[kind] = sorted(found, key=label_order)
    return {"height": int(shape[0]), "width": int(shape[1]), "channels": int(shape[2]),
            "frame_labels": names["frame"], "clip_labels": names["clip"],
            "max_frames": int(train.lengths.max()), "train_examples": len(train)}


def check_dev_labels(dev, meta):
    """InputError naming the dev file when a clip label there is not one the model learns
    (its loss would have no class for it)."""
    if meta["clip_labels"] and dev.clip_labels is not None:
        unknown = sorted(set(dev.clip_labels) - set(meta["clip_labels"]), key=label_order)
        if unknown:
            raise InputError(f"clip label {unknown[0]!r} is not among the training clips' "
                             f"labels ({', '.join(meta['clip_labels'])})", dev.path)


def targets(videos, meta, unseen=-1):
    """``(frame ids [N, T] or None, clip ids [N] or None)``; labels the model does not know
    get ``unseen`` (-1: left out, as unlabelled frames are)."""
    frame_ids = clip_ids = None
    if meta["frame_labels"] and videos.frame_labels is not None:
        index = {name: i for i, name in enumerate(meta["frame_labels"])}
        frame_ids = np.full((len(videos), int(videos.lengths.max())), -1, np.int32)
        for row, labels in zip(frame_ids, videos.frame_labels):
            row[:len(labels)] = [index.get(l, unseen) if l else -1 for l in labels]
    if meta["clip_labels"] and videos.clip_labels is not None:
        index = {name: i for i, name in enumerate(meta["clip_labels"])}
        clip_ids = np.array([index.get(l, unseen) for l in videos.clip_labels], np.int32)
    return frame_ids, clip_ids


def batches(videos, meta, batch_size, shuffle=False, seed=0, order=None, labelled=True):
    """``tf.data`` batches of ``videos`` for a model with metadata ``meta``."""
    frame_ids, clip_ids = targets(videos, meta) if labelled else (None, None)
    shape = (meta["height"], meta["width"], meta["channels"])
    return clip_batches(videos, shape, batch_size, frame_ids, clip_ids, shuffle=shuffle,
                        seed=seed, order=order)
