"""One clip at a time from a video file (PyAV), a folder of frame images, or a clip array.

Every reader returns ``uint8 [T, H, W, C]`` for one clip, so only one clip is in memory at a
time. Video files are decoded with PyAV (the ``video`` extra: FFmpeg's own libraries, with
wheels that need no system FFmpeg); frames can be sampled to a fixed count or rate and
resized to a fixed size. Bad clips raise :class:`~data.errors.InputError` naming the file.
"""

import os

import numpy as np

from data.errors import InputError
from data.image_files import IMAGE_SUFFIXES, decode_image_file, fit_image, image_header

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


def is_video_file(path):
    return str(path).lower().endswith(VIDEO_SUFFIXES)


def frame_files(folder):
    """The image files directly inside ``folder``, sorted by name (the frame order)."""
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")]


def sample_indices(count, frames=0, native_fps=None, fps=0.0):
    """Which of ``count`` decoded frames to keep: ``frames`` evenly spaced ones (0 = all),
    or, with ``fps`` and the clip's ``native_fps``, one every ``native_fps / fps`` frames."""
    if frames:
        return np.round(np.linspace(0, count - 1, frames)).astype(int) if count else []
    if fps and native_fps and fps < native_fps:
        return np.round(np.arange(0, count, native_fps / fps)).astype(int)[:count]
    return np.arange(count)


def read_video(path, frames=0, fps=0.0, size=None, channels=3):
    """Decode one video file into ``uint8 [T, H, W, C]``.

    Args:
        path: the video file.
        frames: keep this many evenly spaced frames (0 = every frame, or ``fps``).
        fps: keep frames at about this rate (0 = the file's own rate).
        size: ``[height, width]`` to resize every frame to (None = the file's size).
        channels: 1 (gray) or 3 (RGB).

    Raises:
        InputError: the file is missing, cannot be decoded, or holds no video frames.
    """
    try:
        import av
    except ImportError:
        raise InputError("reading video files needs PyAV: pip install 'encore[video]'",
                         path) from None
    if not os.path.isfile(path):
        raise InputError("no such file", path)
    pixel_format = "gray" if channels == 1 else "rgb24"
    decoded, native_fps = [], None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError("no video stream in the file", path)
            stream = container.streams.video[0]
            native_fps = float(stream.average_rate) if stream.average_rate else None
            for frame in container.decode(stream):
                options = {} if size is None else {"height": int(size[0]),
                                                   "width": int(size[1])}
                decoded.append(frame.to_ndarray(format=pixel_format, **options))
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as err:
        raise InputError(f"cannot decode video ({type(err).__name__}: {err})", path) from None
    if not decoded:
        raise InputError("the video holds no frames (a clip needs at least one)", path)
    shapes = {frame.shape for frame in decoded}
    if len(shapes) > 1:  # a stream whose resolution changes part-way
        sizes = " and ".join(f"{s[1]}x{s[0]}" for s in sorted(shapes))
        raise InputError(f"frames of different sizes in one clip ({sizes}); set frame_size "
                         "to resize them", path)
    keep = sample_indices(len(decoded), frames, native_fps, fps)
    clip = np.stack([decoded[i] for i in keep])
    return clip[..., None] if clip.ndim == 3 else clip


def read_frame_folder(folder, frames=0, size=None, channels=3):
    """The image files of ``folder`` (sorted by name) as one clip ``uint8 [T, H, W, C]``.

    Raises:
        InputError: no frame images in the folder, or frames of different sizes.
    """
    paths = frame_files(folder)
    if not paths:
        raise InputError("no frame images (.png, .jpg) in the clip folder: a clip needs at "
                         "least one frame", folder)
    first = image_header(paths[0])[0]
    for path in paths[1:]:
        found = image_header(path)[0]
        if found != first:
            raise InputError(f"frames of different sizes in one clip: {found[0]}x{found[1]} "
                             f"here, {first[0]}x{first[1]} in {os.path.basename(paths[0])}",
                             path)
    keep = sample_indices(len(paths), frames)
    shape = tuple(size) if size else first[::-1]
    return np.stack([fit_image(decode_image_file(paths[i]), shape, channels) for i in keep])


def fit_clip(clip, size=None, channels=None):
    """A ``[T, H, W, C]`` array as ``uint8 [T, size..., channels]`` (frame by frame);
    without ``channels``, 1 for gray clips and 3 for colour ones (alpha dropped)."""
    channels = channels or (1 if clip.shape[-1] in (1, 2) else 3)
    if size is None and channels == clip.shape[-1]:
        return clip
    size = tuple(size) if size else clip.shape[1:3]
    return np.stack([fit_image(frame, size, channels) for frame in clip])


def write_video(path, clip, fps=10, codec="mpeg4"):
    """Encode ``uint8 [T, H, W, C]`` frames as a video file with PyAV.

    ``mpeg4`` (MPEG-4 Part 2) ships with every PyAV wheel; quality is set high so that small
    frames survive the round trip with little loss.
    """
    import av

    clip = np.asarray(clip, np.uint8)
    if clip.shape[-1] == 1:
        clip = np.repeat(clip, 3, axis=-1)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = clip.shape[1], clip.shape[2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "1"} if codec == "mpeg4" else {}
        for frame in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
