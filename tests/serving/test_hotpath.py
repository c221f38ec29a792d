"""The lean path of ``GET /v1/users/{id}/recommendations`` answers exactly as the FastAPI route."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("fastapi", reason="the server needs fastapi (pip install 'tripletrec[serve]')")
pytest.importorskip("uvicorn", reason="the server needs uvicorn (pip install 'tripletrec[serve]')")
httpx = pytest.importorskip("httpx", reason="the server tests call it with httpx (pip install 'tripletrec[test]')")

from tripletrec import MatrixFactorization  # noqa: E402
from tripletrec.serving import hotpath  # noqa: E402
from tripletrec.serving.app import ServerSettings  # noqa: E402
from tripletrec.serving.store import ModelStore  # noqa: E402
from tripletrec.testing import checkerboard  # noqa: E402

from ._server import running_server  # noqa: E402


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", {}),
        (b"k=7", {"k": 7}),
        (b"k=25&exclude_seen=false&unknown=popular", {"k": 25, "exclude_seen": False, "unknown": "popular"}),
        (b"unknown=error&exclude_seen=true", {"exclude_seen": True, "unknown": "error"}),
        # Left to FastAPI: other spellings, other parameters, repeats, encodings.
        (b"k=0", None),
        (b"k=010", None),
        (b"k=+5", None),
        (b"k=ten", None),
        (b"k=", None),
        (b"k", None),
        (b"k=1234567890", None),
        (b"k=5&k=6", None),
        (b"exclude_seen=1", None),
        (b"exclude_seen=True", None),
        (b"unknown=maybe", None),
        (b"items=1,2", None),
        (b"k=5&", None),
        (b"k=%35", None),
        (b"via=route", None),
    ],
)
def test_plain_parameters(query, expected):
    parameters = hotpath.plain_parameters(query)
    if expected is None:
        assert parameters is None
    else:
        assert parameters == {"k": 10, "exclude_seen": True, "unknown": "error", **expected}


def _scope(path="/v1/users/u1/recommendations", method="GET", headers=(), **extra):
    return {"type": "http", "method": method, "path": path, "query_string": b"k=3", "headers": list(headers), **extra}


@pytest.mark.parametrize(
    ("scope", "key", "taken"),
    [
        (_scope(), None, True),
        (_scope(method="POST"), None, False),
        (_scope(method="HEAD"), None, False),
        (_scope(path="/v1/users/u1/recommendations/"), None, False),
        (_scope(path="/v1/users/a/b/recommendations"), None, False),
        (_scope(path="/v1/users//recommendations"), None, False),
        (_scope(path="/v1/items/u1/similar"), None, False),
        (_scope(root_path="/api"), None, False),
        (_scope(headers=[(b"x-api-key", b"s3cret")]), "s3cret", True),
        (_scope(headers=[(b"x-api-key", b"guess")]), "s3cret", False),
        (_scope(headers=[(b"x-api-key", b"guess"), (b"x-api-key", b"s3cret")]), "s3cret", False),
        (_scope(), "s3cret", False),
        ({"type": "lifespan"}, None, False),
    ],
)
def test_which_requests_take_the_lean_path(scope, key, taken):
    api = SimpleNamespace(settings=SimpleNamespace(api_key=key))
    arguments = hotpath.UserRecommendations(None, api)._arguments(scope)
    assert (arguments is not None) == taken
    if taken:
        assert arguments == {"user_id": "u1", "k": 3, "exclude_seen": True, "unknown": "error"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, _ = checkerboard()
    model = MatrixFactorization(dim=8, epochs=5, seed=0, threads=1).fit(train, progress=False)
    return model.save(tmp_path_factory.mktemp("model") / "model.npz"), train


_QUERIES = [
    "/v1/users/user-03/recommendations?k=4",
    "/v1/users/user-03/recommendations",
    "/v1/users/user-07/recommendations?k=20&exclude_seen=false",
    "/v1/users/user-07/recommendations?k=20&exclude_seen=true",
    "/v1/users/user-11/recommendations?k=51",  # over --max-k: 422
    "/v1/users/nobody/recommendations?k=3",  # 404
    "/v1/users/stranger/recommendations?k=3&unknown=popular",
    "/v1/users/stranger/recommendations?unknown=error",
]


@pytest.mark.parametrize(("training", "key"), [(True, None), (False, "s3cret")])
def test_lean_path_answers_byte_for_byte_as_the_route(trained, monkeypatch, training, key):
    path, train = trained
    taken = []

    def recording(query):
        parameters = plain_parameters(query)
        taken.append(parameters is not None)
        return parameters

    plain_parameters = hotpath.plain_parameters
    monkeypatch.setattr(hotpath, "plain_parameters", recording)
    store = ModelStore(path, training=train if training else None)
    headers = {} if key is None else {"X-API-Key": key}
    with running_server(store, ServerSettings(max_k=50, api_key=key), poll=False) as url:
        with httpx.Client(base_url=url, headers=headers) as client:
            for query in _QUERIES:
                lean = client.get(query)
                # A parameter the route ignores but the lean path does not know: FastAPI answers.
                routed = client.get(query + ("&" if "?" in query else "?") + "via=route")
                assert (lean.status_code, lean.headers["content-type"], lean.content) == (
                    routed.status_code,
                    routed.headers["content-type"],
                    routed.content,
                ), query
                assert lean.status_code in (200, 404, 422)
            assert client.get(_QUERIES[0], headers={"X-API-Key": "guess"}).status_code == (200 if key is None else 401)
    # Every plain query took the lean path (and the wrong key, when there is one, did not).
    assert taken == [True, False] * len(_QUERIES) + ([True] if key is None else [])
    if not training:  # exclude_seen needs training data: the route's 422
        assert lean.status_code == 422 and b"--train" in lean.content
