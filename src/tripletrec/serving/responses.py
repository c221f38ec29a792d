"""JSON responses and error bodies of the server.

Endpoints return :class:`JSONBytes` directly, so FastAPI neither validates
nor re-encodes what they built (plain ints, strings and floats); orjson
writes it when installed, the standard library otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

try:  # optional: about 3x faster for these bodies
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

__all__ = ["JSONBytes", "error_response", "validation_reason"]


class JSONBytes(Response):
    """``application/json`` from plain Python data."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if orjson is not None:
            try:
                return orjson.dumps(content)
            except TypeError:
                pass  # e.g. an integer past 64 bits: the standard library writes any integer
        return json.dumps(content, separators=(",", ":")).encode()


def error_response(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONBytes:
    """``{"detail": reason}`` with ``status``."""
    return JSONBytes({"detail": reason}, status_code=status, headers=dict(headers) if headers else None)


def validation_reason(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line naming each invalid field of a request and what is wrong with it."""
    parts = []
    for error in errors[:5]:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', message)})"
            location = []
        parts.append(f"{'.'.join(location)}: {message}" if location else message)
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more
