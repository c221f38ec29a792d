"""``tripletrec serve``: the HTTP server of :mod:`tripletrec.serving.app` under uvicorn.

FastAPI and uvicorn are the optional ``serve`` extra: they are imported only
here, when the command runs, never by ``import tripletrec``.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys

from . import _cli_data as data_options
from ._cli_data import UserError

_INSTALL = "tripletrec serve needs fastapi and uvicorn: pip install 'tripletrec[serve]'"

# Seconds between the server's GIL hand-offs (Python's default: 0.005).
_SWITCH_INTERVAL = 0.0005


def add_serve_parser(commands) -> None:
    """The ``serve`` subcommand's options."""
    serve = commands.add_parser("serve", help="serve a saved model over HTTP (needs the serve extra)")
    serve.add_argument("model", help="model file written by fit --out (reloaded when the file is replaced)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    serve.add_argument(
        "--train",
        default=None,
        metavar="DATA",
        help="the training interactions exclude_seen removes: a dataset name (as --dataset) or a file (as --data, "
        "with --user-col and --item-col); default: the dataset recorded in the model file, if any",
    )
    serve.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="require the header X-API-Key to equal the environment variable NAME (except /healthz and /readyz)",
    )
    limits = serve.add_argument_group("limits and tuning")
    limits.add_argument("--max-k", type=int, default=1000, help="largest k a request may ask for (default 1000)")
    limits.add_argument(
        "--max-batch", type=int, default=1000, help="most users (or items) in one request (default 1000)"
    )
    limits.add_argument(
        "--batch-wait-ms",
        type=float,
        default=2.0,
        help="milliseconds a micro-batch waits for more requests after its first (default 2)",
    )
    limits.add_argument("--batch-size", type=int, default=64, help="most requests in one micro-batch (default 64)")
    limits.add_argument(
        "--poll-interval", type=float, default=0.5, help="seconds between checks of the model file (default 0.5)"
    )
    limits.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn's log level (default warning)",
    )
    limits.add_argument("--access-log", action="store_true", help="log every request (slower)")
    limits.add_argument(
        "--approximate",
        action="store_true",
        help="rank with an HNSW index of the items (pip install 'tripletrec[ann]'); exact by default",
    )
    data_options.add_data_arguments(serve)
    serve.set_defaults(handler=command_serve)


def _check_options(args: argparse.Namespace) -> None:
    for flag, value, low in (
        ("--port", args.port, 0),
        ("--max-k", args.max_k, 1),
        ("--max-batch", args.max_batch, 1),
        ("--batch-size", args.batch_size, 1),
    ):
        if value < low:
            raise UserError(f"{flag} must be an integer >= {low}, got {value}")
    if args.port > 65535:
        raise UserError(f"--port must be at most 65535, got {args.port}")
    if not args.batch_wait_ms >= 0 or not args.poll_interval > 0:
        raise UserError("--batch-wait-ms must be >= 0 and --poll-interval > 0")
    if args.train is not None:
        if args.dataset is not None or args.data is not None:
            raise UserError("give --train, or --dataset / --data, not both")
        if args.train in data_options.dataset_names():
            args.dataset = args.train
        else:
            args.data = args.train


def _api_key(name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise UserError(f"--api-key-env {name}: the environment variable {name} is not set or empty")
    return value


def training_source(args: argparse.Namespace):
    """The function giving a model's training interactions: the options given, else the model's record.

    The data is read once per distinct set of options (a reloaded model
    trained on the same data reuses it).
    """
    cache: dict = {}

    def source(model):
        merged = data_options.from_model(args, model)
        if merged.dataset is None and merged.data is None:
            return None, None  # nothing given and nothing recorded: exclude_seen is unavailable
        merged = data_options.with_defaults(merged)
        data_options.check_data_options(merged)
        key = tuple((name, getattr(merged, name, None)) for name in data_options.METADATA_KEYS)
        if key not in cache:
            data = data_options.load_dataset(merged, quiet=True)
            train = data.train if data.train is not None else data.interactions
            part = "train part" if data.train is not None else "interactions"
            cache.clear()
            cache[key] = (train, f"{data.name} ({part}, split {merged.split})")
        return cache[key]

    return source


def _listen(host: str, port: int) -> socket.socket:
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def command_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted (SIGINT or SIGTERM: a graceful shutdown)."""
    _check_options(args)
    api_key = _api_key(args.api_key_env)
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise UserError(_INSTALL) from None
    from .serving.app import ServerSettings, create_app
    from .serving.store import ModelStore

    store = ModelStore(args.model, training=training_source(args), poll_interval=args.poll_interval)
    settings = ServerSettings(
        max_k=args.max_k,
        max_batch=args.max_batch,
        api_key=api_key,
        batch_wait=args.batch_wait_ms / 1000,
        batch_size=args.batch_size,
        approximate=args.approximate,
    )
    if args.approximate:
        try:
            store.current.model.approximate_index()  # built before the first request, and faiss checked
        except ImportError as error:
            raise UserError(str(error)) from None
    app = create_app(store, settings)
    sock = _listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    info = store.current.info
    seen = f"exclude_seen from {info['training_data']}" if info["exclude_seen_available"] else "no training data"
    print(
        f"serving {info['class']} ({info['n_users']:,} users x {info['n_items']:,} items, {seen}) "
        f"on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log, workers=1)
    # What is loaded by now (the libraries' objects, the model) lives as long as the server: frozen,
    # a full collection no longer scans it, which paused every request for up to 150 ms under load.
    gc.freeze()
    # The batcher's thread needs the GIL back after each BLAS product and selection; behind a busy
    # event loop it waited up to Python's 5 ms switch interval each time. 0.5 ms: about 10% more
    # requests/s in benchmarks/serving.py on 2 cores.
    sys.setswitchinterval(_SWITCH_INTERVAL)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
