"""The HTTP API (FastAPI): recommendations, similar items and model facts.

:func:`create_app` builds the application around a
:class:`~tripletrec.serving.store.ModelStore`; ``tripletrec serve`` runs it
with uvicorn. Ids in paths, queries and bodies are the model's external ids
(a path id is read as an integer when the model's ids are integers).
Errors are ``{"detail": "<reason>"}``: 401 for a missing or wrong
``X-API-Key`` (when one is configured), 404 for an id the model does not
know, 422 for a bad parameter or body, 503 while the server is not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr

from .batcher import MicroBatcher
from .engine import Engine, Row, lookup
from .hotpath import UserRecommendations, key_matches
from .responses import JSONBytes, error_response, validation_reason
from .store import ModelStore, Snapshot

__all__ = ["ServerSettings", "create_app"]

Id = StrictInt | StrictStr
# Paths answered without the API key (probes of load balancers and orchestrators).
_OPEN_PATHS = frozenset({"/healthz", "/readyz"})


class ServerSettings(BaseModel):
    """Limits and tuning of :func:`create_app`.

    Attributes
    ----------
    max_k : int
        Largest ``k`` a request may ask for.
    max_batch : int
        Most users in one ``POST /v1/recommendations`` and most items in a
        candidate list or a from-items request.
    api_key : str, optional
        When set, every request but ``/healthz`` and ``/readyz`` needs the
        header ``X-API-Key`` with this value.
    batch_wait : float
        Seconds a micro-batch stays open after its first request.
    batch_size : int
        Most requests in one micro-batch.
    approximate : bool
        Rank with an HNSW index of the items (``tripletrec[ann]``) instead of exactly.
    """

    max_k: int = Field(1000, ge=1)
    max_batch: int = Field(1000, ge=1)
    api_key: str | None = None
    batch_wait: float = Field(0.002, ge=0)
    batch_size: int = Field(64, ge=1)
    approximate: bool = False


class UsersRequest(BaseModel):
    users: list[Id] = Field(min_length=1)
    k: StrictInt = Field(10, ge=1)
    exclude_seen: bool = True
    items: list[Id] | None = None
    unknown: Literal["error", "popular"] = "error"


class ItemsRequest(BaseModel):
    items: list[Id] = Field(min_length=1)
    weights: list[StrictFloat | StrictInt] | None = None
    k: StrictInt = Field(10, ge=1)
    exclude_given: bool = True
    candidates: list[Id] | None = None


def _ranked(ids: list, scores: list) -> list[dict]:
    return [{"id": item, "score": score} for item, score in zip(ids, scores)]


class _Api:
    """The endpoints' shared logic, bound to one store and batcher."""

    def __init__(self, store: ModelStore, settings: ServerSettings):
        self.store = store
        self.settings = settings
        self.engine = Engine(approximate=settings.approximate)
        self.batcher = MicroBatcher(self.engine.process, max_size=settings.batch_size, max_wait=settings.batch_wait)
        self.ready = False

    def check_k(self, k: int) -> int:
        if k > self.settings.max_k:
            raise HTTPException(422, f"k must be at most {self.settings.max_k} (the server's --max-k), got {k}")
        return k

    def check_size(self, values: list, what: str) -> None:
        if len(values) > self.settings.max_batch:
            raise HTTPException(
                422, f"{what} holds {len(values)} ids, more than {self.settings.max_batch} (the server's --max-batch)"
            )

    def items(self, snapshot: Snapshot, values: list | None, what: str) -> np.ndarray | None:
        """Dense indices of a list of item ids (sorted unique for candidates); 404 naming unknown ones."""
        if values is None:
            return None
        self.check_size(values, what)
        indices, unknown = lookup(values, snapshot.model.item_ids_)
        if unknown:
            raise HTTPException(404, f"{what}: {len(unknown)} ids are not items of the model: {unknown[:5]!r}")
        return indices

    def seen(self, snapshot: Snapshot, exclude_seen: bool) -> bool:
        if exclude_seen and snapshot.seen is None:
            raise HTTPException(
                422,
                "exclude_seen=true needs the users' training interactions, which this server does not have: "
                "start it with --train (or serve a model whose metadata records its dataset), "
                "or pass exclude_seen=false",
            )
        return exclude_seen

    def user_rows(
        self, snapshot: Snapshot, users: list, k: int, exclude_seen: bool, items: list | None, unknown: str
    ) -> list[Row]:
        self.check_k(k)
        self.check_size(users, "users")
        candidates = self.items(snapshot, items, "items")
        if candidates is not None:
            candidates = np.unique(candidates)
        exclude_seen = self.seen(snapshot, exclude_seen)
        indices, missing = lookup(users, snapshot.model.user_ids_)
        if missing and unknown == "error":
            noun = "user" if len(users) == 1 else f"{len(missing)} users"
            raise HTTPException(
                404,
                f"{noun} {missing[:5]!r} not in the model; pass unknown=popular for the popular items, "
                "or POST their items to /v1/recommendations/from-items",
            )
        return [
            Row(
                snapshot,
                k,
                user_index=int(index),
                excluded=snapshot.seen_items(int(index)) if exclude_seen and index >= 0 else None,
                candidates=candidates,
            )
            for index in indices
        ]

    async def user_answer(self, user_id: str, k: int, exclude_seen: bool, items: list | None, unknown: str) -> dict:
        """The body of ``GET /v1/users/{user_id}/recommendations``; HTTPException for the route's errors."""
        snapshot = self.store.current
        rows = self.user_rows(snapshot, [user_id], k, exclude_seen, items, unknown)
        ((ids, scores),) = await self.run(rows)
        user = snapshot.model.user_ids_.ids[rows[0].user_index].item() if rows[0].user_index >= 0 else user_id
        return {"user": user, "items": _ranked(ids, scores)}

    async def run(self, rows: list[Row]) -> list[tuple[list, list]]:
        try:
            return await self.batcher.submit(rows)
        except (ValueError, FloatingPointError) as error:
            raise HTTPException(422, " ".join(str(error).split())) from None


class _Application(FastAPI):
    """FastAPI behind :mod:`.hotpath`'s lean path, which sees every request first."""

    def __init__(self, api: _Api, **options):
        super().__init__(**options)
        self.state.api = api
        # In front of all of FastAPI (its telemetry check, error pages and body size limit cost
        # about 8% of the event loop's time per request); what it does not answer goes through it all.
        self._lean = UserRecommendations(super().__call__, api)

    async def __call__(self, scope, receive, send) -> None:
        await self._lean(scope, receive, send)


def create_app(store: ModelStore, settings: ServerSettings | None = None, *, poll: bool = True) -> FastAPI:
    """The FastAPI application serving ``store``'s model.

    Parameters
    ----------
    store : ModelStore
    settings : ServerSettings, optional
    poll : bool
        Start the store's reload thread with the application (and stop it
        at shutdown).

    Returns
    -------
    fastapi.FastAPI
        Starts the micro-batcher and warms the kernels up at startup.
    """
    settings = settings or ServerSettings()
    api = _Api(store, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await api.batcher.start()
        # The first ranking compiles or loads kernels: done before the first request waits on it.
        snapshot = store.current
        first_item = snapshot.model.item_ids_.ids[:1].tolist()
        await api.run([Row(snapshot, 1), Row(snapshot, 1, fold_in=(first_item, None))])
        if poll:
            store.start()
        api.ready = True
        try:
            yield
        finally:
            api.ready = False
            if poll:
                store.stop()
            await api.batcher.stop()

    app = _Application(api, title="tripletrec", lifespan=lifespan, default_response_class=JSONBytes)

    async def api_key(request: Request, call_next):
        if request.url.path not in _OPEN_PATHS:
            if not key_matches(request.headers.get("x-api-key", ""), settings.api_key):
                return error_response(401, "missing or wrong X-API-Key header")
        return await call_next(request)

    if settings.api_key is not None:  # a middleware costs every request: only when there is a key
        app.middleware("http")(api_key)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return error_response(422, validation_reason(error.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return error_response(error.status_code, str(error.detail), error.headers)

    @app.get("/healthz")
    async def healthz():
        return JSONBytes({"status": "ok"})

    @app.get("/readyz")
    async def readyz():
        batcher = api.batcher
        body = {
            "status": "ready" if api.ready and batcher.running else "starting",
            "model_version": store.current.version,
            "reload_error": store.reload_error,
            "batches": {"requests": batcher.n_jobs, "batches": batcher.n_batches, "largest": batcher.largest},
        }
        return JSONBytes(body, status_code=200 if body["status"] == "ready" else 503)

    @app.get("/v1/model")
    async def model_info():
        return JSONBytes({**store.current.info, "reload_error": store.reload_error})

    @app.get("/v1/users/{user_id}/recommendations")
    async def recommend_user(
        user_id: str,
        k: int = Query(10, ge=1),
        exclude_seen: bool = True,
        items: str | None = None,
        unknown: Literal["error", "popular"] = "error",
    ):
        candidates = None if items is None else [value for value in items.split(",") if value.strip()]
        return JSONBytes(await api.user_answer(user_id, k, exclude_seen, candidates, unknown))

    @app.post("/v1/recommendations")
    async def recommend_users(body: UsersRequest):
        snapshot = store.current
        rows = api.user_rows(snapshot, body.users, body.k, body.exclude_seen, body.items, body.unknown)
        answers = await api.run(rows)
        return JSONBytes(
            {"results": [{"user": user, "items": _ranked(*answer)} for user, answer in zip(body.users, answers)]}
        )

    @app.post("/v1/recommendations/from-items")
    async def recommend_new(body: ItemsRequest):
        snapshot = store.current
        api.check_k(body.k)
        given = api.items(snapshot, body.items, "items")
        if body.weights is not None and len(body.weights) != len(body.items):
            raise HTTPException(422, f"weights has {len(body.weights)} values for {len(body.items)} items")
        candidates = api.items(snapshot, body.candidates, "candidates")
        item_ids = snapshot.model.item_ids_.ids
        row = Row(
            snapshot,
            body.k,
            fold_in=(item_ids[given].tolist(), body.weights),
            excluded=np.unique(given) if body.exclude_given else None,
            candidates=None if candidates is None else np.unique(candidates),
        )
        ((ids, scores),) = await api.run([row])
        return JSONBytes({"items": _ranked(ids, scores)})

    @app.get("/v1/items/{item_id}/similar")
    async def similar(item_id: str, k: int = Query(10, ge=1)):
        snapshot = store.current
        api.check_k(k)
        (index,) = api.items(snapshot, [item_id], "item")
        model = snapshot.model
        loop = asyncio.get_running_loop()
        # On the batcher's thread: the model's kernels are entered from one thread at a time.
        ids, scores = await loop.run_in_executor(
            api.batcher.executor, model.similar_items, [model.item_ids_.ids[index]], k
        )
        keep = np.isfinite(scores[0])
        return JSONBytes(
            {
                "item": model.item_ids_.ids[index].item(),
                "items": _ranked(ids[0][keep].tolist(), scores[0][keep].tolist()),
            }
        )

    return app
