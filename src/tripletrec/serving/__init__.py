"""Serving: top-k retrieval over a model's vectors (exact now; approximate and HTTP later)."""

from .exact import cosine_top_k, top_k

__all__ = ["cosine_top_k", "top_k"]
