"""``--export-best OUT``: the best trial as a normal application directory plus a SavedModel."""

import argparse
import os
import time

from applications.core import locks, outputs, progress
from applications.core.train_run import APP_STATE
from data.files import atomic_write_json


def export_best(app, args, tuner, hypermodel, trial, out):
    """Write ``trial``'s model to ``out`` the way ``train`` would, then export it.

    The trial's best-epoch weights are reloaded when its checkpoint is on this machine (a
    worker on another host may hold it); otherwise the trial's config is trained again
    with ``train()``. Either way ``out`` holds ``model.keras``, ``config.json``,
    ``metrics.json`` and ``checkpoints/application.json`` (so ``train --out OUT`` retrains
    the same configuration), and ``out/saved_model`` the SavedModel.
    """
    import keras

    from applications.core.base import load_model
    from applications.core.serving import export

    # The search may have run for hours: check the folder again, hold it as train does,
    # and clear an earlier export's files (a retrained one's checkpoints would resume).
    outputs.check_export_target(out, app.name)
    os.makedirs(out, exist_ok=True)
    locks.acquire(out)
    outputs.remove_run_files(out)
    keras.backend.clear_session()
    hp = trial.hyperparameters.copy()
    config = hypermodel.config_for(hp)
    config.epochs = int(hp.values.get("tuner/epochs", config.epochs))
    model = hypermodel.build(hp)
    checkpoint = tuner._get_checkpoint_fname(trial.trial_id)
    monitor = tuner.oracle.objective.name
    started = time.time()
    state = {"application": app.name, "config": config.to_dict(),
             "metadata": hypermodel.metadata}
    atomic_write_json(os.path.join(out, "checkpoints", APP_STATE), state)
    atomic_write_json(os.path.join(out, "config.json"), config.to_dict())
    if os.path.exists(checkpoint):
        model.load_weights(checkpoint)
        model.save_to(out)
        source, best = f"reloaded trial {trial.trial_id}", trial.score
    else:
        train_ds, dev_ds, order = hypermodel.datasets(config)
        model.train(train_ds, dev_ds, out, config.epochs, verbose=0, order=order)
        source, best = f"retrained trial {trial.trial_id}", model.training_state.best_score
    run_args = argparse.Namespace(**{**vars(args), "out": out})
    extra = app.after_training(model, run_args, config) or {}
    atomic_write_json(os.path.join(out, "metrics.json"), {
        "monitor": monitor,
        "best": best,
        "trial": trial.trial_id,
        "trial_score": trial.score,
        "source": source,
        "hyperparameters": {k: v for k, v in hp.values.items()},
        "seconds": round(time.time() - started, 2),
        **extra,
    })
    saved_model = os.path.join(out, "saved_model")
    export(load_model(out), saved_model)
    progress.line(f"best trial {trial.trial_id} ({source}): application in {out}, SavedModel "
                  f"in {saved_model}")
