"""Models: the paper's transformer (Hahn 2020 §3), its pieces, and the LSTM baseline."""

from limits.models.lstm import LSTM
from limits.models.transformer import ModelConfig, Transformer

__all__ = ["LSTM", "ModelConfig", "Transformer"]
