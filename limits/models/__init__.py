"""Models: the paper's transformer (Hahn 2020 §3) and its pieces."""

from limits.models.transformer import ModelConfig, Transformer

__all__ = ["ModelConfig", "Transformer"]
