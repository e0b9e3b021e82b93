"""Starting and stopping ``livebg serve``: the model is loaded once, the socket bound, uvicorn run; on
Ctrl-C or SIGTERM running jobs are cancelled and the private temporary folder is deleted.

This module imports no web package at its top, so ``livebg serve --help`` stays light and a missing
``web`` extra is reported in one sentence.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from livebg.errors import MissingDependencyError, UsageError
from livebg.serve.config import ServeConfig

log = logging.getLogger(__name__)

INSTALL = "pip install 'livebg[web]'"


def require_web() -> None:
    """Raise :class:`MissingDependencyError` naming the pip command when a web package is missing."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        missing = (exc.name or "a web package").replace("_", "-")
        raise MissingDependencyError(
            f"livebg serve needs FastAPI, uvicorn and python-multipart, and {missing} is not installed; "
            f"install them with: {INSTALL}"
        ) from None


def run_server(config: ServeConfig, model_options: Mapping[str, Any]) -> None:
    """Serve until Ctrl-C or SIGTERM. ``model_options``: :class:`livebg.Matter`'s keywords. Raises
    :class:`~livebg.errors.LivebgError` before serving when the web packages, the model or the port
    are not available."""
    require_web()
    if config.token is None and not config.local_only:
        config = dataclasses.replace(config, token=secrets.token_urlsafe(18))
        log.warning(
            "livebg: warning: %s can be reached from other machines; every request must carry the access "
            "token (pass --token or set LIVEBG_TOKEN to choose it)",
            config.host,
        )
    sock = _bind(config)
    config = dataclasses.replace(config, port=sock.getsockname()[1])
    try:
        import uvicorn

        import livebg
        from livebg.serve.app import create_app
        from livebg.serve.jobs import JobQueue
        from livebg.serve.storage import Storage

        matter = livebg.Matter(**model_options)
        log.info("livebg serve: %s", matter.description)
        storage = Storage(config.disk_limit_bytes)
        queue = JobQueue(
            matter,
            storage,
            concurrency=config.concurrency,
            queue_size=config.queue_size,
            time_limit=config.time_limit,
            retention=config.retention,
        )
        try:
            app = create_app(config, queue, storage, model=matter.config.name)
            verbose = logging.getLogger("livebg").isEnabledFor(logging.DEBUG)
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    log_config=None,
                    log_level="info" if verbose else "warning",
                    access_log=verbose,
                    timeout_graceful_shutdown=3,
                    lifespan="on",
                )
            )
            address = config.url + (f"?token={config.token}" if config.token else "")
            elsewhere = "" if config.local_only else " (from other machines, with this machine's address)"
            print(
                f"livebg serve: open {address} in a browser{elsewhere}; the API is at {config.url}docs; "
                "Ctrl-C stops"
            )
            sys.stdout.flush()
            with _signals_end_quietly():
                server.run(sockets=[sock])
        finally:
            queue.close()
            storage.close()
    finally:
        sock.close()
    log.info("livebg serve: stopped; uploads and results deleted")


def _bind(config: ServeConfig) -> socket.socket:
    """A listening socket on ``config.host``:``config.port`` (0: a free port)."""
    try:
        infos = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise UsageError(
            f"--host {config.host!r} is not an address of this machine; e.g. 127.0.0.1 or 0.0.0.0"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {config.host} port {config.port} ({exc.strerror}); choose another --port "
            "or stop the program that uses it"
        ) from None
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again; with these handlers
    that second time does nothing, so the server's folder is cleaned up and the command exits 0."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
