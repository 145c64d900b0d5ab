"""Models written as tensor expressions on tensorgrad."""

from .mlp import MLP

__all__ = ["MLP"]
