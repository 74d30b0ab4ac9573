"""One Keras Tuner ``HyperModel`` for every application, built on its command-line hooks."""

import keras
import keras_tuner
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from applications.core import progress
from applications.core.base import resolve_jit_compile
from applications.core.config import UsageError
from applications.core.epochs import fit_epochs
from applications.core.training_state import averaged_weights
from data.epoch_order import EpochOrder
from tuning.spaces import apply_values, check_values, declare


class ApplicationHyperModel(keras_tuner.HyperModel):
    """Turns hyperparameters into the application's own config and model.

    ``build(hp)`` copies the base config (defaults, ``--config``, ``--set``), writes the
    trial's values into it (:func:`tuning.spaces.apply_values`) and calls the same factory
    ``train`` calls: ``app.model_class(config.to_dict(), metadata)`` and
    ``compile_for_training``. ``fit`` rebuilds the datasets with the trial's batch size
    through ``app.read_training_data`` and trains through the same epoch driver as
    ``train`` (:func:`applications.core.epochs.fit_epochs`: a new data order each epoch,
    weight averaging, memory release, ``time_budget_minutes``), stopping early on the dev
    score; keras-tuner keeps the trial's checkpoints. The vocabularies and other metadata
    are read once, so every trial sees the same inputs.

    Args:
        app: the application's ``AppCommands``.
        args: the parsed ``tune`` command line (``--train``, ``--dev`` and the
            application's own input flags are read from it).
        config: the base config dataclass.
        space: ``{name: Choice | Range}`` from :func:`tuning.spaces.search_space`.
        jit_compile: ``"auto"``, ``"true"`` or ``"false"`` (see :func:`choose_jit_compile`).

    Example:
        >>> from applications.pos_tagger.commands import TaggerCommands
        >>> from tuning.spaces import search_space
        >>> app = TaggerCommands()
        >>> args = argparse.Namespace(train=None, dev=None)  # doctest: +SKIP
        >>> hypermodel = ApplicationHyperModel(app, args, app.config_class(),
        ...                                    search_space("pos_tagger"), "auto")  # doctest: +SKIP
        >>> model = hypermodel.build(keras_tuner.HyperParameters())  # doctest: +SKIP
    """

    def __init__(self, app, args, config, space, jit_compile):
        super().__init__(name=app.name)
        self.app = app
        self.args = args
        self.base_config = config
        self.space = space
        self.jit_compile = jit_compile
        self.execution = 0  # set by the tuner: the n-th model trained for one trial
        check_values(config, space)
        # Every input file is read and checked here, before the search writes anything.
        self.metadata, train_ds, dev_ds = app.read_training_data(args, config)
        self.sample_batch = next(iter(train_ds))
        self.has_dev = dev_ds is not None
        # The first values of the space must make a model, before anything is written.
        probe = self._new_model(self.config_for(keras_tuner.HyperParameters()))
        self.monitor = probe.monitor if self.has_dev else ("loss", "min")
        del probe, train_ds, dev_ds

    def config_for(self, hp):
        """The trial's config: the base config with ``hp``'s values written in."""
        config = apply_values(self.base_config, declare(hp, self.space))
        config.seed += self.execution
        return config

    def build(self, hp):
        config = self.config_for(hp)
        # Same initial weights for the same values, whatever trials came before.
        keras.utils.set_random_seed(config.seed)
        model = self._new_model(config)
        # As training does: initial weights from files the options name (word vectors).
        self.app.prepare_model(model, self.args, config)
        model.compile_for_training(choose_jit_compile(self.jit_compile, model))
        # Variables exist before fit, so a trial's weights can be loaded into it.
        model.build_from_batch(self.sample_batch)
        return model

    def _new_model(self, config):
        try:
            return self.app.model_class(config.to_dict(), self.metadata)
        except (ValueError, TypeError) as err:
            raise UsageError(f"bad model options: {err}") from None

    def datasets(self, config):
        """``(train, dev, order)``: datasets batched by ``config.batch_size``, the training
        one shuffled by ``order`` (an :class:`~data.epoch_order.EpochOrder`)."""
        keras.utils.set_random_seed(config.seed)
        order = EpochOrder()
        with progress.muted():  # read and shown once already: a trial is one line
            _, train_ds, dev_ds = self.app.read_training_data(self.args, config, self.metadata,
                                                              order=order)
        return train_ds, dev_ds, order

    def fit(self, hp, model, epochs=1, initial_epoch=0, callbacks=(), verbose=0, **kwargs):
        config = self.config_for(hp)
        train_ds, dev_ds, order = self.datasets(config)
        monitor, mode = self.monitor
        for callback in callbacks:
            save_averaged_weights(callback)
        history = fit_epochs(model, train_ds, dev_ds, epochs, order, callbacks=callbacks,
                             verbose=verbose, initial_epoch=initial_epoch)
        scores = [float(v) for v in history.get(monitor, [])]
        if not scores:
            raise RuntimeError(f"training logged no {monitor}")
        best = max(scores) if mode == "max" else min(scores)
        return {monitor: best}


def save_averaged_weights(callback):
    """Make Keras Tuner's best-epoch checkpoint of a trial (``SaveBestEpoch``) hold the
    weight averages the trial was scored on, as ``train`` saves them; ``--export-best``
    and Hyperband's next rounds load that checkpoint. Other callbacks are left as they are;
    one wrapped before (a trial's later executions share it) is not wrapped again."""
    if not isinstance(callback, SaveBestEpoch) or getattr(callback, "saves_averages", False):
        return
    plain = callback._save_model

    def save():
        with averaged_weights(callback.model):
            plain()

    callback._save_model = save
    callback.saves_averages = True


def choose_jit_compile(setting, model):
    """XLA for one trial's model: ``true`` / ``false`` as given; ``auto`` by device and model.

    Without a GPU, ``auto`` is off: on the 2-core CPU this was measured on, forced XLA made
    every model slower (BiLSTM tagger 0.74-0.86x, small CNN 0.19x, a tuning trial of the
    LSTM autoencoder 0.20x). With a GPU it is on, except for models holding a recurrent
    layer: XLA cannot compile the fused cuDNN RNN kernels (keras-team/keras#18456), so
    those keep cuDNN.
    """
    if setting not in ("auto", None):
        return resolve_jit_compile(setting)
    if not resolve_jit_compile("auto"):
        return False
    return not any(isinstance(layer, keras.layers.RNN)
                   for layer in model._flatten_layers(include_self=False))
