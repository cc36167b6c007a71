"""Reward Lens training backend: GRPO, LUFFY and OGER on PyTorch, streaming protocol-v1 events."""

__version__ = "0.1.0"
