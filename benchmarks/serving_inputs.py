"""Raw inputs for ``serving_throughput.py``: one maker per application.

``inputs(model, work)`` returns ``(serve, predict)`` or ``(serve, predict, endpoint)``:
``serve(idx)`` gives the keyword tensors of the exported ``endpoint`` (default ``serve``)
for the items ``idx`` (``arange(batch)``, at most 64 items), and ``predict(model, idx)``
runs the application's Python API on the same items, as raw Python values. ``work`` is a
folder for the files a Python API reads (images, clip arrays).
"""

import io
import os

import numpy as np

ITEMS = 64


class SkipApplication(Exception):
    """This application's export cannot be timed here (the reason is the message)."""


def png_bytes(images):
    """PNG files of ``uint8`` images ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]``."""
    from PIL import Image

    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    return encoded


def write_pngs(images, folder):
    """Write ``images`` as PNG files in ``folder``; returns ``(their bytes, their paths)``."""
    os.makedirs(folder, exist_ok=True)
    encoded, paths = png_bytes(images), []
    for i, payload in enumerate(encoded):
        paths.append(os.path.join(folder, f"{i:03d}.png"))
        with open(paths[-1], "wb") as handle:
            handle.write(payload)
    return encoded, paths


def encoded_images(images, work):
    """Image files in (``serve`` gets their bytes), paths to the Python API."""
    encoded, paths = write_pngs(images, os.path.join(work, "pngs"))
    return (lambda idx: {"images": [encoded[i] for i in idx]},
            lambda m, idx: m.predict([paths[i] for i in idx]))


def texts_in(texts, key, method="predict"):
    """Strings in, both sides: ``serve(key=...)`` and ``model.<method>(list of str)``."""
    return (lambda idx: {key: [texts[i] for i in idx]},
            lambda m, idx: getattr(m, method)([texts[i] for i in idx]))


def tagger_inputs(model, work):
    from applications.pos_tagger.sample_data import generate_sentences

    return texts_in([" ".join(token for token, _ in s)
                     for s in generate_sentences(ITEMS, seed=7)], "sentences")


def classifier_inputs(model, work):
    from applications.text_classifier.sample_data import generate_reviews

    return texts_in([text for text, _ in generate_reviews(ITEMS, seed=7)], "texts")


def language_model_inputs(model, work):
    from applications.language_model.sample_data import generate_verses

    lines = [line for line in generate_verses(40, seed=7).splitlines() if line.strip()]
    return texts_in(lines[:ITEMS], "texts", "score")


def translator_inputs(model, work):
    from applications.translator.sample_data import generate_pairs

    return texts_in([source for source, _ in generate_pairs(ITEMS, seed=7)], "sentences")


def _shape_images(count):
    from data.shape_images import shape_sets

    _, (images, _) = shape_sets()
    return np.asarray(images[:count])


def image_classifier_inputs(model, work):
    return encoded_images(_shape_images(ITEMS), work)


def autoencoder_inputs(model, work):
    meta = model.metadata
    images = _shape_images(ITEMS)
    if images.shape[1:] != (meta["height"], meta["width"], meta["channels"]):
        from applications.autoencoder.sample_data import sample_sets

        images = np.asarray(sample_sets()[1][:ITEMS])
    _, paths = write_pngs(images, os.path.join(work, "pngs"))
    return (lambda idx: {"pixels": images[idx]},
            lambda m, idx: m.predict([paths[i] for i in idx]))


def anomaly_inputs(model, work):
    """An item is one window of ``span`` points of the embedded test series: ``serve`` gets
    ``batch`` consecutive windows (with their times, for a model with a season) and
    ``detect`` the ``batch + span - 1`` points they cover, so both score the same windows."""
    from applications.anomaly_detector.sample_data import sample_paths
    from applications.anomaly_detector.pipeline import sliding_windows
    from data.time_series import read_time_series

    meta, span = model.metadata, model.span
    series = read_time_series(sample_paths()["test"], meta["columns"],
                              meta["timestamp_column"])
    points = ITEMS + span - 1
    values, times = series.values[:points].astype(np.float32), series.times[:points]
    windows = sliding_windows(values, span)[0]
    stamps = sliding_windows(times[:, None], span)[0][..., 0]
    season = bool(meta.get("season"))

    def serve(idx):
        return {"windows": windows[idx], **({"times": stamps[idx]} if season else {})}

    def predict(m, idx):
        count = len(idx) + span - 1
        return m.detect(values[:count], times=times[:count] if season else None)

    return serve, predict


def tabular_inputs(model, work):
    from applications.tabular.sample_data import generate_rows, sample_paths
    from applications.tabular.serving import describe

    description = describe(model)
    rows = generate_rows(ITEMS, seed=7)
    with open(sample_paths()["train"], encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    dicts = [dict(zip(header, map(str, row))) for row in rows]
    columns = {}
    for item in description["inputs"]:
        values = [d.get(item["column"], "") for d in dicts]
        columns[item["key"]] = (np.array([float(v) if v not in ("", "?", "NA") else np.nan
                                          for v in values], np.float32)
                                if item["kind"] == "numeric" else np.array(values, object))
    return (lambda idx: {key: values[idx] for key, values in columns.items()},
            lambda m, idx: m.predict_rows([dicts[i] for i in idx]))


def video_inputs(model, work):
    """An item is one clip of the embedded dev set. ``serve`` takes one clip, so batches go
    to the export's batched ``classify_clips`` (padded frames and lengths); the Python API
    reads the same clips from an ``.npz`` clip array, one file per batch size."""
    from applications.video_classifier.sample_data import sliding_squares

    clips, lengths = sliding_squares(ITEMS, seed=12)[:2]
    lengths = lengths.astype(np.int32)
    os.makedirs(work, exist_ok=True)

    def predict(m, idx):
        path = os.path.join(work, f"clips_{len(idx)}.npz")
        if not os.path.exists(path):  # written during the untimed warm-up call
            np.savez(path, clips=clips[idx], lengths=lengths[idx])
        return m.predict(path)

    return (lambda idx: {"frames": clips[idx], "lengths": lengths[idx]}, predict,
            "classify_clips")


def captioner_inputs(model, work):
    from applications.captioner.sample_data import sample_sets

    return encoded_images(np.asarray(sample_sets()[1][0][:ITEMS]), work)


def detector_inputs(model, work):
    from applications.detector.sample_data import generate_scenes

    return encoded_images(generate_scenes(ITEMS, int(model.config["image_size"]), seed=2)
                          .images, work)


MAKERS = {
    "pos_tagger": tagger_inputs,
    "text_classifier": classifier_inputs,
    "language_model": language_model_inputs,
    "translator": translator_inputs,
    "image_classifier": image_classifier_inputs,
    "autoencoder": autoencoder_inputs,
    "anomaly_detector": anomaly_inputs,
    "tabular": tabular_inputs,
    "video_classifier": video_inputs,
    "captioner": captioner_inputs,
    "detector": detector_inputs,
}
