"""Application-independent encoders: every one returns ``{"sequence", "pooled"[, "mask"]}``."""

from encoders.cnn_encoder import CNN_Encoder
from encoders.registry import build_encoder, encoder_names, register
from encoders.rnn_encoder import RNN_Encoder

__all__ = ["CNN_Encoder", "RNN_Encoder", "build_encoder", "encoder_names", "register"]
