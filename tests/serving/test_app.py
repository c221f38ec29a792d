"""The HTTP server, end to end: a real uvicorn on 127.0.0.1 called with httpx."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs fastapi (pip install 'tripletrec[serve]')")
pytest.importorskip("uvicorn", reason="the server needs uvicorn (pip install 'tripletrec[serve]')")
httpx = pytest.importorskip("httpx", reason="the server tests call it with httpx (pip install 'tripletrec[test]')")

from tripletrec import MatrixFactorization  # noqa: E402
from tripletrec.serving.app import ServerSettings  # noqa: E402
from tripletrec.serving.store import ModelStore  # noqa: E402
from tripletrec.testing import checkerboard  # noqa: E402

from ._server import running_server  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, _ = checkerboard()
    model = MatrixFactorization(dim=8, epochs=5, seed=0, threads=1).fit(train, progress=False)
    path = model.save(tmp_path_factory.mktemp("model") / "model.npz")
    return model, train, path


@pytest.fixture(scope="module")
def server(trained):
    model, train, path = trained
    store = ModelStore(path, training=train)
    with running_server(store, ServerSettings(max_k=50, max_batch=5), poll=False) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def _pairs(body):
    return [(entry["id"], entry["score"]) for entry in body["items"]]


def test_health_readiness_and_model_facts(server, trained):
    model, _, path = trained
    assert server.get("/healthz").json() == {"status": "ok"}
    ready = server.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    info = server.get("/v1/model").json()
    assert info["class"] == "MatrixFactorization" and info["format"] == "tripletrec-model"
    assert (info["n_users"], info["n_items"], info["dim"]) == (20, 20, 8)
    assert (info["user_id_type"], info["item_id_type"]) == ("str", "int")
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["library_version"] and info["file_mtime"] and info["exclude_seen_available"]


def test_user_recommendations_match_the_model(server, trained):
    model, train, _ = trained
    body = server.get("/v1/users/user-03/recommendations", params={"k": 4}).json()
    ids, scores = model.recommend("user-03", k=4, exclude=train)
    assert body["user"] == "user-03"
    assert [item for item, _ in _pairs(body)] == ids.tolist()
    np.testing.assert_allclose([score for _, score in _pairs(body)], scores, rtol=1e-5, atol=1e-6)
    seen = set(train.item_ids.ids[train.indices[train.indptr[3] : train.indptr[4]]].tolist())
    assert not seen & {item for item, _ in _pairs(body)}
    # Without exclusion, restricted to candidates (ids given as text, converted to the model's integers).
    body = server.get("/v1/users/user-03/recommendations?k=2&exclude_seen=false&items=1001,1015,1016").json()
    ids, _ = model.recommend("user-03", k=2, items=[1001, 1015, 1016])
    assert [item for item, _ in _pairs(body)] == ids.tolist()


def test_batch_of_users_answers_as_single_requests(server):
    users = ["user-00", "user-11", "user-19"]
    batch = server.post("/v1/recommendations", json={"users": users, "k": 3}).json()["results"]
    singles = [server.get(f"/v1/users/{user}/recommendations?k=3").json() for user in users]
    assert batch == singles


def test_unknown_user_popular_fallback(server, trained):
    model, _, _ = trained
    body = server.get("/v1/users/stranger/recommendations?k=3&unknown=popular").json()
    assert body["user"] == "stranger"
    assert [item for item, _ in _pairs(body)] == np.argsort(-model.item_biases_)[:3].__add__(1000).tolist()


def test_from_items_and_similar(server, trained):
    model, _, _ = trained
    body = server.post("/v1/recommendations/from-items", json={"items": [1000, "1001", 1002], "k": 5}).json()
    ids, _ = model.recommend_new([1000, 1001, 1002], k=5, seed=0)
    assert [item for item, _ in _pairs(body)] == ids.tolist()
    weighted = server.post("/v1/recommendations/from-items", json={"items": [1000, 1001], "weights": [1.0, 3], "k": 2})
    assert weighted.status_code == 200 and len(weighted.json()["items"]) == 2
    body = server.get("/v1/items/1004/similar?k=3").json()
    ids, scores = model.similar_items(1004, k=3)
    assert body["item"] == 1004 and [item for item, _ in _pairs(body)] == ids.tolist()


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "reason"),
    [
        ("get", "/v1/users/nobody/recommendations", None, 404, "not in the model"),
        ("get", "/v1/users/user-01/recommendations?k=0", None, 422, "k"),
        ("get", "/v1/users/user-01/recommendations?k=51", None, 422, "at most 50"),
        ("get", "/v1/users/user-01/recommendations?k=ten", None, 422, "k"),
        ("get", "/v1/users/user-01/recommendations?items=1001,9999", None, 404, "9999"),
        ("get", "/v1/users/user-01/recommendations?unknown=maybe", None, 422, "unknown"),
        ("get", "/v1/items/abc/similar", None, 404, "abc"),
        ("get", "/v1/items/1003/similar?k=0", None, 422, "k"),
        ("post", "/v1/recommendations", b'{"users": ["user-01"', 422, "not valid JSON"),
        ("post", "/v1/recommendations", {"users": []}, 422, "users"),
        ("post", "/v1/recommendations", {"users": ["user-01"] * 6}, 422, "more than 5"),
        ("post", "/v1/recommendations", {"users": ["user-01", "ghost"]}, 404, "ghost"),
        ("post", "/v1/recommendations", {"users": ["user-01"], "k": 0}, 422, "k"),
        ("post", "/v1/recommendations/from-items", {"items": [1000], "weights": [1, 2]}, 422, "weights"),
        ("post", "/v1/recommendations/from-items", {"items": [1000], "weights": [-1]}, 422, "negative"),
        ("post", "/v1/recommendations/from-items", {"items": [77]}, 404, "77"),
        ("post", "/v1/recommendations/from-items", {"items": []}, 422, "items"),
    ],
)
def test_bad_requests_get_a_reason_never_a_500(server, method, url, payload, status, reason):
    if isinstance(payload, bytes):
        response = server.post(url, content=payload, headers={"content-type": "application/json"})
    elif method == "post":
        response = server.post(url, json=payload)
    else:
        response = server.get(url)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]


def test_exclude_seen_without_training_data_and_api_key(trained):
    _, _, path = trained
    settings = ServerSettings(api_key="s3cret")
    with running_server(ModelStore(path), settings, poll=False) as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz").status_code == 200  # probes need no key
        assert client.get("/v1/model").status_code == 401
        wrong = client.get("/v1/model", headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
        key = {"X-API-Key": "s3cret"}
        refused = client.get("/v1/users/user-01/recommendations", headers=key)
        assert refused.status_code == 422 and "--train" in refused.json()["detail"]
        allowed = client.get("/v1/users/user-01/recommendations?exclude_seen=false", headers=key)
        assert allowed.status_code == 200


def test_hot_reload_under_a_stream_of_requests(trained, tmp_path):
    model, train, _ = trained
    path = model.save(tmp_path / "served.npz")
    store = ModelStore(path, training=train, poll_interval=0.05)
    failures, answered = [], []
    with running_server(store) as url:

        def stream():
            deadline = time.monotonic() + 60
            with httpx.Client(base_url=url, timeout=30) as client:
                for number in range(300):
                    if time.monotonic() > deadline:
                        break
                    response = client.get(f"/v1/users/user-{number % 20:02d}/recommendations?k=3")
                    (answered if response.status_code == 200 else failures).append(response.status_code)

        worker = threading.Thread(target=stream)
        worker.start()
        replacements = [
            MatrixFactorization(dim=8, epochs=2, seed=seed, threads=1).fit(train, progress=False) for seed in (1, 2, 3)
        ]
        for replacement in replacements:
            time.sleep(0.1)
            replacement.save(path)  # os.replace, as a retraining job would
        worker.join()
        deadline = time.monotonic() + 10
        with httpx.Client(base_url=url) as client:
            while client.get("/readyz").json()["model_version"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            info = client.get("/v1/model").json()
            body = client.get("/v1/users/user-05/recommendations?k=4").json()
    assert failures == [] and len(answered) == 300
    assert info["version"] >= 2 and info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    ids, _ = replacements[-1].recommend("user-05", k=4, exclude=train)
    assert [entry["id"] for entry in body["items"]] == ids.tolist()


def test_reload_of_a_broken_file_keeps_the_old_model(trained, tmp_path):
    model, train, _ = trained
    path = model.save(tmp_path / "served.npz")
    store = ModelStore(path, training=train, poll_interval=0)
    first = store.current
    path.write_bytes(b"not a model")
    assert store.check() is False and store.current is first and "failed" in store.reload_error
    model.save(path)
    assert store.check() is True and store.current.version == 2 and store.reload_error is None


def test_from_items_same_answer_alone_and_in_a_batch(trained):
    model, train, path = trained
    settings = ServerSettings(batch_wait=0.02, batch_size=64)
    request = {"items": [1003, 1007, 1008], "weights": [1.0, 2.0, 1.0], "k": 6}
    rng = np.random.default_rng(0)
    others = [
        {"items": rng.choice(1000 + np.arange(20), size=int(rng.integers(1, 8)), replace=False).tolist(), "k": 6}
        for _ in range(30)
    ]

    async def concurrently(url):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            alone = (await client.post("/v1/recommendations/from-items", json=request)).json()
            batch = [request, *others[:15], request, *others[15:], request]
            answers = await asyncio.gather(
                *(client.post("/v1/recommendations/from-items", json=body) for body in batch)
            )
            largest = (await client.get("/readyz")).json()["batches"]["largest"]
            return alone, [answer.json() for answer in answers], largest

    with running_server(ModelStore(path, training=train), settings, poll=False) as url:
        alone, answers, largest = asyncio.run(concurrently(url))
    assert largest > 1, "the concurrent requests were not batched"
    assert answers[0] == alone and answers[16] == alone and answers[-1] == alone


def test_approximate_server_answers_like_the_model(trained):
    pytest.importorskip("faiss", reason="the ann extra is not installed (pip install 'tripletrec[ann]')")
    model, train, path = trained
    store = ModelStore(path, training=train)
    with running_server(store, ServerSettings(approximate=True), poll=False) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            for user in ("user-00", "user-13"):
                body = client.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()
                ids, _ = model.recommend(user, k=5, exclude=train, approximate=True)
                assert [item for item, _ in _pairs(body)] == ids.tolist()
                exact, _ = model.recommend(user, k=5, exclude=train)
                assert set(ids.tolist()) == set(exact.tolist())  # 20 items: the graph finds them all
