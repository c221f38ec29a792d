"""Load test of ``tripletrec serve``: top-10 for single users of a 50,000-item model.

Trains (or reuses) a MatrixFactorization on synthetic data with 50,000 items,
starts ``tripletrec serve`` on 127.0.0.1 in a subprocess (the model file
records its synthetic data, so seen items are excluded), and sends
``GET /v1/users/{id}/recommendations?k=10`` for random users from
``--clients`` concurrent keep-alive HTTP/1.1 connections: a fixed number of
requests, stopped early after ``--max-seconds``. The client is a bare
asyncio HTTP/1.1 loop (no HTTP library), so that it costs the server as
little CPU as possible when both share the machine. The server runs with
one BLAS thread (``--blas-threads``), which measured about twice the
throughput of OpenBLAS's default on 2 busy cores. uvicorn uses httptools and
uvloop when they are installed (``pip install httptools uvloop``). Prints requests/s,
latency percentiles (p50/p95/p99, ms), errors, and the server's
micro-batching counts. Target of the issue: >= 1,000 requests/s with
p99 <= 20 ms and no error on 2 cores.

Measured on 2 quiet cores (AMD EPYC, 1-minute load average below about 1.1
before each run), defaults, runs spread by the shared host: 1,160-1,440
requests/s, latency p50 22-27 ms, p95 28-36 ms, p99 32-41 ms, no error, mean
micro-batch 16. The code before the lean request path, the one-thread
selection, gc.freeze and the shorter GIL switch interval, run alternately
with it: 542-585 requests/s, p99 213-288 ms. The throughput part is met; p99
is not: with 32 closed-loop clients the mean latency is 32 / throughput, so
p99 <= 20 ms needs well over 1,600 requests/s. Most of a micro-batch's time
is the BLAS product of 16 users by 50,000 items, which runs 2-3 times slower
than alone while the event loop and this client keep the other core busy.
With ``--approximate`` (the server's HNSW top-k; the script then checks the
answers of 500 random users against exact top-10): 1,980 requests/s with
p50 7.8 ms and p99 13.4 ms at 16 clients, 2,320 requests/s with p99 19.1 ms
at 24, 2,300 with p99 25.4 ms at 32; recall@10 1.0000, no error. Exact at
16 clients: 925 requests/s, p99 26.5 ms (smaller micro-batches).

Usage::

    python benchmarks/serving.py                         # 20,000 requests, 32 clients
    python benchmarks/serving.py --requests 5000 --clients 16 --json
    python benchmarks/serving.py --approximate --clients 16   # HNSW top-k, recall checked
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def model_file(args: argparse.Namespace) -> Path:
    """The benchmark's model: trained once, then reused from ``--model``."""
    path = Path(args.model)
    if path.exists() and not args.retrain:
        return path
    from tripletrec import MatrixFactorization
    from tripletrec.data import synthetic

    data = synthetic(n_users=args.users, n_items=args.items, n_interactions=args.interactions, seed=0)
    started = time.perf_counter()
    model = MatrixFactorization(dim=args.dim, epochs=1, seed=0).fit(data.interactions, progress=False)
    print(
        f"trained {args.users:,} users x {args.items:,} items, dim {args.dim} in {time.perf_counter() - started:.1f} s"
    )
    # What `tripletrec fit --dataset synthetic` records, so the server rebuilds the training items.
    metadata = {"dataset": "synthetic", "split": "none", "seed": 0}
    metadata.update(users=args.users, items=args.items, interactions=args.interactions)
    return model.save(path, metadata=metadata)


def start_server(path: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    if args.blas_threads:
        # One BLAS thread: the event loop needs the other core, and spinning BLAS workers take it.
        env.update(
            {name: str(args.blas_threads) for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")}
        )
    command = [sys.executable, "-m", "tripletrec.cli", "serve", str(path), "--host", "127.0.0.1", "--port", "0"]
    command += ["--batch-wait-ms", str(args.batch_wait_ms), "--batch-size", str(args.batch_size)]
    if args.approximate:
        command.append("--approximate")
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    # Notices (e.g. a first compile of the data kernels) may come before the "serving ... on" line.
    lines = []
    for line in iter(process.stderr.readline, ""):
        lines.append(line)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if match:
            print("".join(lines).strip())
            return process, match.group(1)
    process.kill()
    raise SystemExit(f"the server did not start: {''.join(lines)}")


async def _request(reader, writer, target: str) -> tuple[int, bytes]:
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def _get(port: str, target: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    try:
        return await _request(reader, writer, target)
    finally:
        writer.close()


async def wait_ready(port: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (await _get(port, "/readyz"))[0] == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready")


async def load(port: str, users: list, n_requests: int, clients: int, max_seconds: float, seed: int) -> dict:
    """Send ``n_requests`` from ``clients`` keep-alive connections; stop after ``max_seconds``."""
    rng = np.random.default_rng(seed)
    targets = [f"/v1/users/{user}/recommendations?k=10" for user in rng.choice(users, size=n_requests)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    position = 0
    deadline = time.monotonic() + max_seconds

    async def client() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
        try:
            while position < len(targets) and time.monotonic() < deadline:
                target = targets[position]
                position += 1
                started = time.perf_counter()
                try:
                    status, _ = await _request(reader, writer, target)
                except (OSError, asyncio.IncompleteReadError) as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    return
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    milliseconds = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(milliseconds, 50)),
        "p95_ms": float(np.percentile(milliseconds, 95)),
        "p99_ms": float(np.percentile(milliseconds, 99)),
        "max_ms": float(milliseconds.max()),
        "errors": errors,
        "stopped_by_time": len(latencies) < n_requests,
    }


async def served_recall(port: str, path: Path, args: argparse.Namespace, n_users: int = 500) -> float:
    """Recall@10 of the server's answers against exact top-10 (training items excluded) for random users."""
    from tripletrec import load as load_model
    from tripletrec.data import synthetic

    model = load_model(path)
    train = synthetic(n_users=args.users, n_items=args.items, n_interactions=args.interactions, seed=0).interactions
    users = np.random.default_rng(3).choice(model.user_ids_.ids, size=n_users, replace=False)
    expected, _ = model.recommend(users, k=10, exclude=train)
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    try:
        hits = 0
        for user, wanted in zip(users, expected):
            status, body = await _request(reader, writer, f"/v1/users/{user}/recommendations?k=10")
            if status != 200:
                raise SystemExit(f"the recall check got status {status} for user {user}")
            hits += len({item["id"] for item in json.loads(body)["items"]} & set(wanted.tolist()))
    finally:
        writer.close()
    return hits / (10 * n_users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="/tmp/tripletrec-serving-benchmark.npz", help="model file (reused)")
    parser.add_argument("--retrain", action="store_true", help="train the model even if the file exists")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000, help="requests measured (after 500 of warm-up)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop the measured run after this long")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="BLAS threads of the server (default 1; 0: the library's default)"
    )
    parser.add_argument(
        "--approximate",
        action="store_true",
        help="serve with --approximate (HNSW top-k) and report the answers' recall@10 against exact",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    path = model_file(args)
    process, port = start_server(path, args)
    try:
        asyncio.run(wait_ready(port, 300))
        info = json.loads(asyncio.run(_get(port, "/v1/model"))[1])
        from tripletrec import load as load_model

        users = load_model(path).user_ids_.ids.tolist()
        asyncio.run(load(port, users, 500, args.clients, 60, seed=1))  # warm-up, not counted
        before = json.loads(asyncio.run(_get(port, "/readyz"))[1])["batches"]
        result = asyncio.run(load(port, users, args.requests, args.clients, args.max_seconds, seed=2))
        after = json.loads(asyncio.run(_get(port, "/readyz"))[1])["batches"]
        recall = asyncio.run(served_recall(port, path, args)) if args.approximate else None
    finally:
        process.terminate()
        process.wait(timeout=30)
    batches = after["batches"] - before["batches"]
    result.update(
        items=info["n_items"],
        dim=info["dim"],
        clients=args.clients,
        cores=os.cpu_count(),
        mean_batch=(after["requests"] - before["requests"]) / max(batches, 1),
        approximate=args.approximate,
        recall_at_10=recall,
    )
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['requests']:,} requests ({args.clients} clients, {info['n_items']:,} items, dim {info['dim']}, "
        f"{os.cpu_count()} cores) in {result['seconds']:.2f} s: {result['requests_per_second']:,.0f} requests/s; "
        f"latency p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"max {result['max_ms']:.1f} ms; errors {sum(result['errors'].values())} {result['errors'] or ''}; "
        f"mean micro-batch {result['mean_batch']:.1f} requests"
        + (" (stopped by --max-seconds)" if result["stopped_by_time"] else "")
        + (f"; approximate top-k, recall@10 against exact {recall:.4f} (500 users)" if args.approximate else "")
    )


if __name__ == "__main__":
    main()
