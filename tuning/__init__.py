"""Hyperparameter search with Keras Tuner: one HyperModel per application, building the same
config object and model the command line builds.

- ``spaces``: what each application's search varies (``SPACES``) and how values enter its
  config (``apply_values``).
- ``hypermodel``: ``ApplicationHyperModel`` (``build(hp)`` -> config -> the application's
  model class; ``fit`` applies the batch size) and the XLA choice per trial.
- ``tuners``: oracles with atomic state files and a crash-proof resume, and the tuner that
  times trials, records memory and frees what each trial leaves behind.
- ``distributed``: the chief's gRPC service with worker heartbeats.
- ``search`` / ``results`` / ``export_best``: the ``tune`` verb, its table and
  ``--export-best``.

Run it as ``python -m applications.<app> tune ...`` or ``python -m tuning <app> ...``.
"""
