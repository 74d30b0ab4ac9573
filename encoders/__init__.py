"""Application-independent encoders: every one returns ``{"sequence", "pooled"[, "mask"]}``."""

from encoders.attention import BahdanauAttention, LuongAttention
from encoders.cnn_encoder import CNN_Encoder
from encoders.mlp_encoder import MLP_Encoder
from encoders.registry import build_encoder, encoder_names, register
from encoders.rnn_encoder import RNN_Encoder
from encoders.tracking import CheckpointableLists
from encoders.transformer_encoder import Transformer_Encoder

__all__ = ["BahdanauAttention", "LuongAttention", "CNN_Encoder", "CheckpointableLists",
           "MLP_Encoder", "RNN_Encoder", "Transformer_Encoder", "build_encoder", "encoder_names",
           "register"]
