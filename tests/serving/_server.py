"""Start the real server (uvicorn on 127.0.0.1, a free port) in a thread for a test, and stop it cleanly."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def running_server(store, settings=None, *, poll: bool = True, startup_seconds: float = 120.0):
    """Yield the base URL of a server for ``store``; shut it down on exit."""
    import uvicorn

    from tripletrec.serving.app import create_app

    app = create_app(store, settings, poll=poll)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_seconds  # the first start may compile kernels
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down"
