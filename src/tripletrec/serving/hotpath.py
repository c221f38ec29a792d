"""A lean path for the hot request, ``GET /v1/users/{id}/recommendations``.

Under load, FastAPI's own work per request (its telemetry check, middleware
layers, routing, dependency solving and parameter validation) cost about as
much CPU as ranking the request did. :class:`UserRecommendations`, an ASGI layer in
front of the whole FastAPI application, answers the plain form of that
request itself: a path id, query parameters among ``k``, ``exclude_seen``
and ``unknown`` spelled plainly (``k=10``, ``exclude_seen=false``,
``unknown=popular``: no percent-encoding, no repeats), and the right
``X-API-Key`` when the server has one. It computes the body with the route's
own code (:meth:`tripletrec.serving.app._Api.user_answer`), so answers and
the errors that code raises (404 for an unknown user, 422 for a ``k`` above
``--max-k``) are the route's, byte for byte.

Every other request goes to the FastAPI application unchanged, and so does
any form of this one the lean path does not recognise (another parameter,
``k=0`` or ``k=ten``, ``exclude_seen=1``, a missing or wrong key): FastAPI's
validation gives those their answers (422 with the reason, 401), as before.
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException

from .responses import JSONBytes, error_response

if TYPE_CHECKING:
    from .app import _Api

__all__ = ["UserRecommendations", "key_matches", "plain_parameters"]

# The route's path pattern ({user_id} matches one path segment).
_PATH = re.compile(r"/v1/users/([^/]+)/recommendations")

# A k the route accepts as it is written; others (0, +5, 010, 1e3) are left to FastAPI's validation.
_K = re.compile(r"[1-9][0-9]{0,8}")

# The plain spellings of the other parameters, and their values.
_CHOICES = {
    "exclude_seen": {"true": True, "false": False},
    "unknown": {"error": "error", "popular": "popular"},
}


def key_matches(given: str, key: str) -> bool:
    """Whether an ``X-API-Key`` header (decoded as latin-1, as Starlette does) is ``key``, in constant time."""
    return hmac.compare_digest(given.encode(), key.encode())


def plain_parameters(query: bytes) -> dict[str, Any] | None:
    """The route's arguments from a query string in the plain form; None for any other query.

    Parameters
    ----------
    query : bytes
        The raw query string (ASGI's ``query_string``).

    Returns
    -------
    dict or None
        ``k``, ``exclude_seen`` and ``unknown``, defaults filled in (as the
        route's signature has them).
    """
    parameters: dict[str, Any] = {}
    if query:
        if b"%" in query or b"+" in query:
            return None
        for pair in query.decode("latin-1").split("&"):
            name, _, value = pair.partition("=")
            if name in parameters:
                return None
            if name == "k" and _K.fullmatch(value):
                parameters[name] = int(value)
            elif value in _CHOICES.get(name, ()):
                parameters[name] = _CHOICES[name][value]
            else:
                return None
    return {"k": 10, "exclude_seen": True, "unknown": "error", **parameters}


class UserRecommendations:
    """ASGI layer answering plain ``GET /v1/users/{id}/recommendations`` requests itself.

    Parameters
    ----------
    app : ASGI application
        Where every other request goes.
    api : tripletrec.serving.app._Api
        The endpoints' shared logic (store, batcher, settings).
    """

    def __init__(self, app, api: _Api):
        self.app = app
        self.api = api

    def _arguments(self, scope: dict) -> dict[str, Any] | None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            return None
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            return None
        key = self.api.settings.api_key
        if key is not None:
            # Starlette's Headers.get: the first header of that name.
            given = next((value for name, value in scope["headers"] if name == b"x-api-key"), b"")
            if not key_matches(given.decode("latin-1"), key):
                return None
        arguments = plain_parameters(scope["query_string"])
        if arguments is not None:
            arguments["user_id"] = match.group(1)
        return arguments

    async def __call__(self, scope, receive, send) -> None:
        arguments = self._arguments(scope)
        if arguments is None:
            await self.app(scope, receive, send)
            return
        try:
            response = JSONBytes(await self.api.user_answer(items=None, **arguments))
        except HTTPException as error:  # as the application's handler answers it
            response = error_response(error.status_code, str(error.detail), error.headers)
        # Other exceptions go up to uvicorn, which answers 500 and logs them, as FastAPI's error layer would.
        await response(scope, receive, send)
