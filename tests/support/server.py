"""Running warden's HTTP app under uvicorn on a loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from warden.app.daemon import Warden
from warden.interfaces.api.app import create_app
from warden.interfaces.api.limits import SlowClientH11


@contextmanager
def serving(warden: Warden) -> Iterator[str]:
    """Serve `warden`'s app with its dispatcher running; yields the base URL."""
    config = uvicorn.Config(
        create_app(warden),
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
        http=SlowClientH11,  # as `warden run` serves it
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    warden.dispatcher.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        warden.dispatcher.stop()
        warden.close()
