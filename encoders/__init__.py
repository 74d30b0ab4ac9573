"""Application-independent encoders: every one returns ``{"sequence", "pooled"[, "mask"]}``."""

from encoders.attention import BahdanauAttention, LuongAttention
from encoders.cnn_encoder import CNN_Encoder
from encoders.registry import build_encoder, encoder_names, register
from encoders.rnn_encoder import RNN_Encoder
from encoders.tracking import CheckpointableLists

__all__ = ["BahdanauAttention", "LuongAttention", "CNN_Encoder", "CheckpointableLists",
           "RNN_Encoder", "build_encoder", "encoder_names", "register"]
