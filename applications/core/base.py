"""The shared application: one train step, one test step, and ``train()`` over ``fit()``.

Applications subclass :class:`Application`, build their layers from ``(config, metadata)``
and choose the loss, metrics and monitored score; they never write a training loop.
"""

import os

import keras
import tensorflow as tf

from applications.core import compat
from applications.core.adversarial import adversarial_loss
from applications.core.distributed import WorkerRole
from applications.core.distributed_loop import train_with_strategy
from applications.core.epochs import fit_epochs
from applications.core.inputs import as_training_data
from applications.core.optimizers import optimizer_options, with_ema_warmup
from applications.core.training_state import MODEL_FILE, save_model_atomically
from data.errors import InputError
from encoders.backbones import restoring
from encoders.tracking import CheckpointableLists

compat.check_keras()  # the train step uses Keras' private loss tracker


class Application(CheckpointableLists, keras.Model):
    """Base class of every application model.

    Args:
        config: the application's config as a plain dict (``TrainConfig.to_dict()``).
        metadata: JSON-serialisable data the model needs at run time (vocabularies, label
            names, normalisation statistics); it travels inside the saved ``.keras`` file.

    Subclasses set ``monitor`` (the dev score that picks the best epoch) and implement
    ``call``, ``make_loss`` and ``make_metrics``. Layers they keep in lists or dicts are in
    the model's own ``tf.train.Checkpoint`` too (:mod:`encoders.tracking`).
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        self.metadata = metadata

    def get_config(self):
        base = super().get_config()
        base.update(config=self.config, metadata=self.metadata)
        return base

    def make_loss(self):
        raise NotImplementedError

    def make_metrics(self):
        return []

    # Layers whose variables Muon updates the AdamW way (the output layer, as its authors
    # advise); an application names its own.
    muon_adam_layers = ()

    def make_optimizer(self):
        options = optimizer_options(self.config)
        if self.config["optimizer"].lower() == "muon" and self.muon_adam_layers:
            options["exclude_layers"] = list(self.muon_adam_layers)
        return with_ema_warmup(keras.optimizers.get({"class_name": self.config["optimizer"],
                                                     "config": options}), self.config)

    def compile_for_training(self, jit_compile=None):
        if jit_compile is None:
            jit_compile = resolve_jit_compile(self.config.get("jit_compile", "auto"))
        # weighted_metrics, not metrics: only those receive the sample weights that mark
        # padding, so token-level scores count real tokens only.
        self.compile(optimizer=self.make_optimizer(), loss=self.make_loss(),
                     loss_weights=self.make_loss_weights(),
                     weighted_metrics=self.make_metrics(), jit_compile=jit_compile,
                     steps_per_execution=int(self.config.get("steps_per_execution", 1)))

    def make_loss_weights(self):
        """Weights of the outputs' losses in the total (None: one output, or equal)."""
        return None

    # The one training step in the package. Distributed training and the tuner reuse it.
    def train_step(self, data, loss_share=None):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred, loss = self.training_loss(x, y, sample_weight, loss_share)
            # As in Keras' own step. Under mixed_float16 the optimizer is a
            # LossScaleOptimizer: the loss is multiplied by its scale so that small float16
            # gradients do not underflow, and apply_gradients divides them by the same scale
            # (skipping the update when they overflowed). Otherwise the loss is unchanged, or
            # multiplied by the optimizer's loss_scale_factor, which apply_gradients undoes.
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(loss, x, y, y_pred, sample_weight)

    def training_loss(self, x, y, sample_weight, loss_share=None):
        """``(y_pred, loss)`` of one training batch, run inside the train step's tape.

        The loss is what the step minimises and logs. With ``adversarial_epsilon`` > 0 (an
        application that defines ``input_vectors`` and ``scores_from_vectors``), it is the
        clean loss plus the loss at adversarially moved input vectors
        (:mod:`applications.core.adversarial`). ``loss_share`` multiplies it: under
        ``--distribute``, this replica's share of the global batch's loss, in place of
        Keras' 1/replicas (:mod:`applications.core.distributed` explains); None outside.
        """
        def scored(y_pred):
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            return y_pred, loss if loss_share is None else loss * loss_share

        epsilon = float(self.config.get("adversarial_epsilon", 0.0))
        if epsilon <= 0:
            return scored(self(x, training=True))
        vectors, mask = self.input_vectors(x, training=True)
        return adversarial_loss(
            lambda points: scored(self.scores_from_vectors(points, mask, training=True)),
            vectors, mask, epsilon)

    def test_step(self, data, loss_share=None):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=False)
        if loss_share is not None:  # as in training_loss
            loss = loss * loss_share
        return self._update_metrics(loss, x, y, y_pred, sample_weight)

    def _update_metrics(self, loss, x, y, y_pred, sample_weight):
        # compute_metrics does not touch the loss tracker; without this the logs say loss 0.
        # The tracker averages over replicas too, so a replica's part counts replicas times.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._loss_tracker.update_state(loss * replicas if replicas > 1 else loss)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def targets_from_one_hot(self, y):
        """``(targets, sample weights or None)`` for the loss, from a batch's one-hot ``y``.

        The notes' ``load_all_batches`` give Y one-hot; the losses take ids, as the
        ``tf.data`` pipelines give them, so both paths run the same loss. Here one-hot rows
        become ids (arg-max over the last axis) and an all-zero row (padding) weight 0,
        every other row weight 1. Applications whose targets are not ids override this.
        """
        ids = tf.argmax(y, axis=-1, output_type=tf.int32)
        return ids, tf.cast(tf.reduce_max(y, axis=-1) > 0, tf.float32)

    def application_class(self):
        """The application this model is, for :meth:`load_model`: its class (an ensemble
        answers its members' class)."""
        return type(self)

    @classmethod
    def load_model(cls, path):
        """Load a saved application of this class from its directory or its ``.keras`` file.

        ``PosTagger.load_model("runs/tagger")`` returns the saved tagger (or an ensemble of
        taggers); ``Application.load_model`` loads any application. Loading is safe as
        :func:`load_model` describes.

        Raises:
            InputError: no model there, a file this package does not build, or the model
                of another application (one line naming the file).
        """
        model = load_model(path)
        if not (isinstance(model, cls) or issubclass(model.application_class(), cls)):
            raise InputError(f"holds a {model.application_class().__name__} model, not a "
                             f"{cls.__name__}", model_file(path))
        return model

    def build_from_batch(self, batch):
        """Create all variables (model and optimizer) by running one batch forward."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(batch)
        self(x, training=False)
        self.optimizer.build(self.trainable_variables)

    def train(self, train_data, dev_data, out_dir, epochs, callbacks=(), verbose=None,
              strategy=None, role=None, order=None):
        """Train with ``fit()``, resuming from ``out_dir`` if it holds a checkpoint.

        Writes ``out_dir/model.keras`` (the best epoch on dev), ``out_dir/checkpoints`` and
        TensorBoard logs under ``out_dir/logs``. Returns the ``fit`` history as a dict
        (empty when there was nothing left to train). With a ``tf.distribute`` ``strategy``
        (the model built in its scope) the same steps run through ``strategy.run``
        instead (:mod:`applications.core.distributed_loop`); ``role`` says who writes what.
        Both run the epochs through :mod:`applications.core.epochs`, which sets ``order``
        (the :class:`~data.epoch_order.EpochOrder` ``train_data`` shuffles by) to each
        epoch's number as it begins.

        ``train_data`` and ``dev_data`` may also be the notes' batches, ``(X, one-hot Y)``
        from an application's ``load_all_batches``: a function returning the generator, a
        re-iterable object, or the generator itself (read once and kept in memory); see
        :mod:`applications.core.inputs`.
        """
        train_data, dev_data = (as_training_data(self, data) for data in (train_data, dev_data))
        role = role or WorkerRole()
        if strategy is not None:
            history = train_with_strategy(self, strategy, role, train_data, dev_data, out_dir,
                                          epochs, callbacks, verbose, order)
        else:
            history = fit_epochs(self, train_data, dev_data, epochs, order, out_dir, callbacks,
                                 verbose)
        best_path = os.path.join(out_dir, MODEL_FILE)
        # The chief's file; another worker's copy lies in its private folder. Loaded also
        # when nothing was left to train: the model holds the last checkpoint's weights.
        if role.chief and os.path.exists(best_path):
            self.set_weights(load_model(best_path).get_weights())
        return history

    def save_to(self, out_dir):
        save_model_atomically(self, os.path.join(out_dir, MODEL_FILE))

    def serving_module(self):
        """A ``tf.Module`` whose ``serve`` function takes raw inputs; see :func:`applications.core.serving.export`."""
        raise NotImplementedError

    def predict(self, x, *args, **kwargs):
        """Keras' ``predict``, except that raw inputs go to :meth:`predict_raw`.

        Raw inputs are a ``str`` or a list or tuple of ``str`` (:mod:`applications.core.api`);
        arrays, tensors and datasets of model inputs get Keras' ``predict`` unchanged.
        """
        if is_raw_input(x):
            return self.predict_raw(x, *args, **kwargs)
        return super().predict(x, *args, **kwargs)

    def predict_raw(self, inputs, **options):
        """Python results for raw inputs, through the serving module; each application's own."""
        raise TypeError(f"{type(self).__name__} does not take raw inputs")


def resolve_jit_compile(setting):
    """``auto`` turns XLA on only where a GPU is present: measured slower on CPU here."""
    if setting in (True, "true", "True"):
        return True
    if setting in (False, "false", "False"):
        return False
    return bool(tf.config.list_physical_devices("GPU"))


def model_file(path):
    """The ``.keras`` file of a saved application: ``path`` itself or ``path/model.keras``."""
    path = str(path)
    return os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path


def is_raw_input(inputs):
    """True for a ``str`` or path, or a list or tuple of them (empty ones included): the
    raw inputs :meth:`Application.predict` sends to ``predict_raw``."""
    if isinstance(inputs, (str, os.PathLike)):
        return True
    return isinstance(inputs, (list, tuple)) and all(
        isinstance(item, (str, os.PathLike)) for item in inputs)


def load_model(path):
    """Load a saved application from its directory or its ``.keras`` file.

    The same as ``Application.load_model(path)``; ``SomeApplication.load_model(path)``
    also refuses another application's model.

    Only classes this package registers can be loaded (:mod:`applications.core.safe_loading`
    checks the file first), and Keras' safe mode stays on, so a file carrying a Lambda
    layer or other code is refused.
    """
    from applications.core.registry import register_all

    register_all()

    path = model_file(path)
    if not os.path.exists(path):
        raise InputError("no saved model here (expected a directory holding model.keras)", path)
    from applications.core.safe_loading import check_model_archive

    # Refuses, before Keras reads anything, files whose objects are not this package's.
    check_model_archive(path, Application)
    try:
        with restoring():  # the file's weights replace any pretrained backbone's
            return keras.saving.load_model(path)
    except (ValueError, TypeError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot load model: {first[:300]}", path) from None
