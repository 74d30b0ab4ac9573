"""Hyperparameter search with Keras Tuner: one HyperModel per application, building the same
config object and model the command line builds.

- ``spaces``: reads an application's ``SEARCH_SPACE`` (declared in its ``config.py``) and
  writes the chosen values into its config (``apply_values``).
- ``hypermodel``: ``ApplicationHyperModel`` (``build(hp)`` -> config -> the application's
  model class; ``fit`` applies the batch size) and the XLA choice per trial.
- ``tuners``: oracles with atomic state files and a crash-proof resume, and the tuner that
  times trials, records memory and frees what each trial leaves behind.
- ``distributed``: the chief's gRPC service with worker heartbeats.
- ``verb``: the ``tune`` verb the launcher (:mod:`applications.main`) adds to every
  application's command line; ``search`` / ``results`` / ``export_best``: what it runs, its
  table and ``--export-best``.

Run it as ``encore <app> tune ...``, ``python -m applications.<app> tune ...`` or
``python -m tuning <app> ...``.
"""
