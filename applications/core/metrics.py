"""Metrics whose weighting is explicit, so padding never counts."""

import keras


@keras.saving.register_keras_serializable(package="encore")
class TokenAccuracy(keras.metrics.Metric):
    """Fraction of weighted positions whose arg-max prediction equals the integer label.

    Keras' built-in accuracy also folds in any mask attached to the predictions and rescales
    it; here the sample weight (1 at real tokens, 0 at padding) is the only weighting, so the
    value is exactly correct tokens over real tokens.
    """

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        hit = ops.cast(ops.equal(ops.cast(y_true, "int32"),
                                 ops.cast(ops.argmax(y_pred, axis=-1), "int32")), "float32")
        weight = ops.ones_like(hit) if sample_weight is None else ops.cast(sample_weight,
                                                                              "float32")
        self.correct.assign_add(ops.sum(hit * weight))
        self.total.assign_add(ops.sum(weight))

    def result(self):
        return keras.ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)
