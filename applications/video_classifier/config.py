"""The video classifier's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range


@dataclasses.dataclass
class VideoClassifierConfig(TrainConfig):
    """uint8 frames -> scale to [0, 1] -> (training) the same augmentation for every frame of
    a clip -> average pooling by ``downsample`` -> ``CNN_Encoder`` on every frame -> per-frame
    features -> ``RNN_Encoder`` across frames -> a label per frame and/or one per clip.

    A frame's features are the encoder's pooled summary (what is in the frame) and, with
    ``coordinate_pooling``, each feature map's soft-argmax position (where it is: global
    pooling alone throws position away, and direction needs it). With
    ``frame_differences`` the recurrent layer also sees each frame's features minus the
    previous frame's, so motion is one subtraction away. ``frame_only`` drops the recurrent
    layer and the differences: each frame is classified alone (the baseline that shows
    what time adds). Which heads exist is chosen by the training data's labels.

    Defaults are the moving-digits recipe (benchmarks/video_moving_digits.py): two 3x3
    convolution blocks (16 and 32 filters, 2x2 max pooling) on frames halved in size, one
    64-unit GRU forwards in time, Adam with cosine decay from 2e-3 over 10 epochs of 32
    clips, training stopped before an epoch that would pass 15 minutes.

    Attributes:
        encoder: the ``CNN_Encoder`` applied to each frame (a preset and/or arguments).
        rnn: the ``RNN_Encoder`` across frames (``nodes``, ``cell``, ``bidirectional``).
        frame_only: no recurrent layer: per-frame labels from each frame alone.
        coordinate_pooling: add each feature map's soft-argmax (x, y) to a frame's features.
        frame_differences: feed the recurrent layer features and their change since the
            previous frame.
        downsample: average-pool frames by this factor before the CNN (1 = full size).
        clip_hidden: sizes of dense layers between the clip summary (the RNN's final state
            and the mean frame features) and the clip labels.
        dropout: dropout on the features the heads see.
        clip_loss_weight: weight of the clip label's loss beside the frame labels' loss.
        augment_translation: random shift (fraction of height and width), one per clip.
        augment_brightness: random brightness change (fraction), one per clip.
        frames: sample this many evenly spaced frames from each video file or frame folder
            (0 = all frames).
        fps: sample video files at about this frame rate (0 = the file's rate).
        frame_size: ``[height, width]`` clips are resized to ([] = the first clip's size).
        channels: 1 (gray) or 3 (RGB) for video files and frame folders (0 = 3; arrays
            keep their own).
        lr_schedule: ``cosine`` (decay to 0 over ``epochs``) or ``constant``.
        warmup_epochs: linear warm-up from ``learning_rate / 10`` before the cosine decay.
        dev_split: without ``--dev``, this seeded fraction of the ``--train`` clips is held
            out as dev to choose the best epoch and stop early (0 = none).
    """

    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "filters": [16, 32], "kernel_size": 3, "pooling": "max",
        "summary": "global_max"})
    rnn: dict = dataclasses.field(default_factory=lambda: {
        "name": "rnn", "nodes": [64], "cell": "gru", "bidirectional": False})
    frame_only: bool = False
    coordinate_pooling: bool = True
    frame_differences: bool = True
    downsample: int = 2
    clip_hidden: list = dataclasses.field(default_factory=list)
    dropout: float = 0.0
    clip_loss_weight: float = 1.0
    augment_translation: float = 0.0
    augment_brightness: float = 0.0
    frames: int = 0
    fps: float = 0.0
    frame_size: list = dataclasses.field(default_factory=list)
    channels: int = 0
    lr_schedule: str = "cosine"
    warmup_epochs: float = 0.0
    dev_split: float = 0.1
    batch_size: int = 32
    epochs: int = 10
    patience: int = 4
    learning_rate: float = 2e-3
    time_budget_minutes: float = 15.0


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "rnn.units": Choice((32, 64, 128)),
    "rnn.cell": Choice(("gru", "lstm")),
    "coordinate_pooling": Choice((True, False)),
    "downsample": Choice((1, 2)),
    "dropout": Range(0.0, 0.3, step=0.1),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((16, 32, 64)),
}
