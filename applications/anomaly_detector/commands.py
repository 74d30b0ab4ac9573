"""The anomaly detector's part of the shared command line, and its ``detect`` verb."""

import json
import sys

import numpy as np

from applications.anomaly_detector import season, transform
from applications.anomaly_detector.config import DetectorConfig
from applications.anomaly_detector.model import AnomalyDetector
from applications.anomaly_detector.sample_data import sample_paths
from applications.anomaly_detector.scoring import detection_scores, read_label_windows
from applications.anomaly_detector.pipeline import (choose_threshold, flagged_runs,
                                                   model_values, parse_threshold_rule,
                                                   point_scores, pooled_windows,
                                                   series_metadata, sliding_windows)
from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from data.epoch_order import epoch_permutation, epoch_pipeline_options
from data.errors import InputError
from data.time_series import read_time_series

CHUNK = 1024  # windows per serving call


class DetectorCommands(AppCommands):
    """``train | evaluate | predict | export | detect`` for the anomaly detector.

    ``read_training_data`` reads and checks the series before anything is written;
    ``after_training`` then scores the training points with the best model and saves the
    threshold in its metadata.

    Example:
        >>> from applications.core.cli import main
        >>> main(DetectorCommands(), ["train", "--out", "runs/ad", "--epochs", "1"])  # doctest: +SKIP
        0
    """

    name = "anomaly_detector"
    config_class = DetectorConfig
    model_class = AnomalyDetector

    def add_arguments(self, verb, parser):
        if verb == "train":
            parser.add_argument("--timestamp-column", help="header of the timestamp column")
            parser.add_argument("--value-columns", help="comma-separated value columns "
                                "(default: every column but the timestamp)")
        if verb == "evaluate":
            parser.add_argument("--labels", help="label windows, NAB combined_windows.json "
                                "format (default with no --data: the embedded labels)")
        if verb in ("evaluate", "predict"):
            _add_detection_flags(parser)

    def read_training_data(self, args, config, metadata=None, order=None):
        import tensorflow as tf

        _check_config(config)
        if args.timestamp_column:
            config.timestamp_column = args.timestamp_column
        if args.value_columns:
            config.value_columns = [c.strip() for c in args.value_columns.split(",") if c.strip()]
        path = args.train or sample_paths()["train"]
        if metadata is not None:  # resuming: the columns and statistics of the first run
            series = progress.reading(path, "points", read_time_series, metadata["columns"],
                                      metadata["timestamp_column"], size=_points)
        else:
            series = progress.reading(path, "points", read_time_series,
                                      config.value_columns or None,
                                      config.timestamp_column or None, size=_points)
        part = series.head(int(round(len(series.values) * config.train_fraction)))
        span = config.window * config.pool
        _check_length(part, span, path, config.train_fraction)
        # Without --dev, the last dev_split of the training points (time order) is dev.
        fit, held = (part, None) if args.dev else part.split_tail(config.dev_split, span)
        if held is not None:
            progress.line(f"no --dev: the last {len(held.values):,} of {len(part.values):,} "
                          f"training points of {progress.file_label(path)} held out as dev "
                          f"(dev_split={config.dev_split:g}) to choose the best epoch and stop "
                          "early")
        meta = metadata or series_metadata(fit, config.season, config.transform)
        self.training_series = part
        train = _normalised_windows(fit, meta, config)
        # The order depends only on (seed, epoch), so a resumed run repeats it.
        windows = tf.constant(train)
        train_ds = (epoch_permutation(len(train), config.seed, order).batch(config.batch_size)
                    .map(lambda ids: (tf.gather(windows, ids), tf.gather(windows, ids)))
                    .with_options(epoch_pipeline_options()))
        dev_ds = None
        if args.dev:
            dev = progress.reading(args.dev, "points", read_time_series, meta["columns"],
                                   meta["timestamp_column"], size=_points)
            _check_length(dev, span, args.dev)
            held = dev
        if held is not None:
            dev = _normalised_windows(held, meta, config)
            dev_ds = (tf.data.Dataset.from_tensor_slices((dev, dev)).batch(config.batch_size * 4)
                      .with_options(epoch_pipeline_options()))
        return meta, train_ds, dev_ds

    def after_training(self, model, args, config):
        """Choose the threshold on the training points with the best model, and save it."""
        from applications.core.base import load_model

        best = load_model(args.out)
        scores = score_points(best, self.training_series, "scoring the training points")
        threshold = choose_threshold(scores, config.threshold, config.threshold_margin)
        best.metadata = {**best.metadata, "threshold": threshold,
                         "threshold_rule": config.threshold}
        best.save_to(args.out)
        return {"threshold": threshold, "train_points": len(scores)}

    def evaluate(self, model, args):
        data = args.data or sample_paths()["test"]
        labels = args.labels or (None if args.data else sample_paths()["labels"])
        if labels is None:
            raise UsageError("evaluate needs --labels WINDOWS_JSON with --data")
        series, scores, flags, threshold = detect_series(model, data, args)
        windows = read_label_windows(labels, data)
        results = detection_scores(flags, series.times, windows, model.config["merge_gap"],
                                   first_scored=_probation_points(len(flags), args))
        results["threshold"] = threshold
        meta = model.metadata  # what the model chose for itself with the auto settings
        results["season"] = meta.get("season") or "none"
        results["log_columns"] = [name for name, log in zip(meta["columns"],
                                                            meta.get("log_columns") or [])
                                  if log]
        return results

    def predict(self, model, args, out):
        series, scores, flags, _ = detect_series(model, args.input, args)
        out.write("timestamp,score,anomaly\n")
        for stamp, score, flag in zip(series.timestamps, scores, flags):
            out.write(f"{stamp},{score:.6g},{int(flag)}\n")

    def extra_verbs(self):
        return {"detect": (_detect_arguments, self.run_detect)}

    def run_detect(self, args):
        """Score a series, flag anomalous points and write the flagged runs."""
        from applications.core.base import load_model

        model = load_model(args.model)
        data = args.data or sample_paths()["test"]
        series, scores, flags, threshold = detect_series(model, data, args)
        runs = flagged_runs(flags, model.config["merge_gap"])
        if args.plot:
            from applications.anomaly_detector.plots import plot_detection

            plot_detection(args.plot, series, scores, threshold, runs)
        write_detections(sys.stdout, args.format, series, scores, flags, runs, threshold)
        return 0


def score_points(model, series, label="scoring"):
    """Per-point anomaly scores of a series: the mean score of the windows covering it.

    Progress is shown as a stage named ``label``, counting windows.
    """
    import tensorflow as tf

    server = model.serving_module()
    windows, starts = sliding_windows(series.values, model.span, stride=1)
    inputs = [windows]
    if model.metadata.get("season"):  # the exported model takes each point's time too
        inputs.append(sliding_windows(np.asarray(series.times, np.float64)[:, None],
                                      model.span, stride=1)[0][..., 0])
    window_scores = np.concatenate([
        server.serve(*(tf.constant(x[i:i + CHUNK]) for x in inputs))["scores"].numpy()
        for i in progress.track(range(0, len(windows), CHUNK), label, total=len(windows),
                                unit="windows", size=lambda i: len(windows[i:i + CHUNK]))])
    return point_scores(window_scores, starts, model.span, len(series.values))


def detect_series(model, path, args):
    """Read ``path`` with the model's columns and flag it: ``(series, scores, flags, threshold)``.

    With ``--with-model DIR`` (repeatable) a point is flagged when any of the models flags
    it, each above its own threshold; its score is then its highest score-to-threshold
    ratio over the models, and the threshold 1.
    """
    from applications.core.base import load_model

    extra = getattr(args, "with_model", None) or []
    models = [model] + [load_model(directory) for directory in extra]
    meta = model.metadata
    thresholds = [getattr(args, "threshold", None)] + [None] * len(extra)
    if thresholds[0] is not None and not np.isfinite(thresholds[0]):
        raise UsageError(f"--threshold must be a finite number, not {thresholds[0]}")
    for i, other in enumerate(models):
        name = f"--with-model {extra[i - 1]}: " if i else ""
        if i and not (isinstance(other, AnomalyDetector)
                      and other.metadata["columns"] == meta["columns"]):
            raise UsageError(f"{name}not an anomaly detector of the columns "
                             f"{', '.join(meta['columns'])}")
        if thresholds[i] is None:
            thresholds[i] = other.metadata.get("threshold")
        if thresholds[i] is None:
            raise UsageError(f"{name}this model has no threshold (its training did not "
                             "finish); give one with --threshold")
    if extra and min(thresholds) <= 0:
        raise UsageError("--with-model compares scores to thresholds, which must be positive")
    series = progress.reading(path, "points", read_time_series, meta["columns"],
                              meta["timestamp_column"], size=_points)
    for other in models:
        _check_length(series, other.span, path)
        if other.metadata.get("season") and series.time_kind != "datetime":
            raise InputError(f"the model was trained with season={other.metadata['season']} "
                             "and needs dates in the timestamp column", path)
    name = progress.file_label(path)
    scores = [score_points(other, series, f"scoring {name}" + (f" (model {i + 1})" if i else ""))
              for i, other in enumerate(models)]
    flags = np.any([s > t for s, t in zip(scores, thresholds)], axis=0)
    flags[:_probation_points(len(flags), args)] = False
    if not extra:
        return series, scores[0], flags, float(thresholds[0])
    return series, np.max([s / t for s, t in zip(scores, thresholds)], axis=0), flags, 1.0


def _points(series):
    return len(series.values)


def _probation_points(length, args):
    """How many leading points ``--probation`` keeps unflagged and unscored."""
    probation = getattr(args, "probation", 0.0) or 0.0
    if not 0.0 <= probation < 1.0:
        raise UsageError(f"--probation must be in [0, 1), not {probation}")
    return int(length * probation)


def write_detections(out, fmt, series, scores, flags, runs, threshold):
    """CSV rows ``kind,start,end,score`` (merged windows, then points) or one JSON object."""
    points = [{"timestamp": series.timestamps[i], "score": float(scores[i])}
              for i in np.flatnonzero(flags)]
    windows = [{"start": series.timestamps[a], "end": series.timestamps[b], "points": b - a + 1,
                "max_score": float(scores[a:b + 1].max())} for a, b in runs]
    if fmt == "json":
        out.write(json.dumps({"threshold": threshold, "windows": windows, "points": points},
                             sort_keys=True) + "\n")
        return
    out.write("kind,start,end,score\n")
    for w in windows:
        out.write(f"window,{w['start']},{w['end']},{w['max_score']:.6g}\n")
    for p in points:
        out.write(f"point,{p['timestamp']},{p['timestamp']},{p['score']:.6g}\n")


def _add_detection_flags(parser):
    parser.add_argument("--threshold", type=float,
                        help="flag points scoring above this (default: the trained threshold)")
    parser.add_argument("--with-model", action="append", metavar="DIR",
                        help="also flag what this detector flags, e.g. one with a coarser "
                        "pool (repeatable)")
    parser.add_argument("--probation", type=float, default=0.0, metavar="FRACTION",
                        help="never flag the first FRACTION of the series (NAB: 0.15)")


def _detect_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", help="CSV series to scan (default: the embedded test series)")
    parser.add_argument("--format", choices=["csv", "json"], default="csv")
    parser.add_argument("--plot", metavar="PNG", help="also draw series, score and flags")
    _add_detection_flags(parser)


def _check_config(config):
    parse_threshold_rule(config.threshold)
    for name, module in (("season", season), ("transform", transform)):
        if getattr(config, name) not in module.SETTINGS:
            raise UsageError(f"{name} must be one of {', '.join(module.SETTINGS)}, "
                             f"not {getattr(config, name)!r}")
    for name, least in (("window", 2), ("pool", 1), ("stride", 1)):
        if getattr(config, name) < least:
            raise UsageError(f"{name} must be at least {least}, not {getattr(config, name)}")
    if not 0.0 < config.train_fraction <= 1.0:
        raise UsageError(f"train_fraction must be in (0, 1], not {config.train_fraction}")
    if config.merge_gap < 0:
        raise UsageError(f"merge_gap must be 0 or more, not {config.merge_gap}")
    if not 0.0 < config.threshold_margin < float("inf"):
        raise UsageError(f"threshold_margin must be a positive number, not "
                         f"{config.threshold_margin}")


def _check_length(series, window, path, fraction=1.0):
    if len(series.values) < window:
        part = f" in its first {fraction:g}" if fraction < 1.0 else ""
        raise InputError(f"the series has {len(series.values)} points{part}, fewer than one "
                         f"window of {window}; use a longer series or a smaller --set window=N "
                         "(or pool=N)", path)


def _normalised_windows(series, meta, config):
    values = model_values(series, meta)
    normalised = (values - np.asarray(meta["mean"], np.float32)) / np.asarray(meta["std"],
                                                                              np.float32)
    return pooled_windows(normalised.astype(np.float32), config.window, config.pool,
                          config.stride)[0]
