"""Serving: top-k retrieval over a model's vectors (exact now; approximate later) and the HTTP server.

The server's modules (:mod:`.app`, :mod:`.store`, :mod:`.batcher`,
:mod:`.engine`, :mod:`.ranking`) are not imported here: :mod:`.app` needs
FastAPI, the optional ``serve`` extra.
"""

from .exact import cosine_top_k, top_k

__all__ = ["cosine_top_k", "top_k"]
