"""The server's settings: a frozen dataclass the CLI builds (importing it loads no web package)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MB = 2**20


@dataclass(frozen=True)
class ServeConfig:
    """Where ``livebg serve`` listens and what it allows.

    ``token``: when set, every request must carry it (``Authorization: Bearer TOKEN``, or the cookie the
    page gets from ``/?token=TOKEN``). ``max_upload_bytes``: the largest request body (all files of a
    request together). ``time_limit``: seconds a job may run (checked between frames). ``retention``:
    seconds a finished job's files are kept. ``disk_limit_bytes``: uploads and results together.
    ``concurrency``: jobs that run the model at the same time (each has its own copy of the model).
    ``queue_size``: jobs that may wait. ``cors_origins``: origins allowed to call the API from their
    pages (none by default). ``max_pixels``: the largest picture or video frame, width times height.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_upload_bytes: int = 256 * MB
    time_limit: float = 15 * 60.0
    retention: float = 60 * 60.0
    disk_limit_bytes: int = 2048 * MB
    concurrency: int = 1
    queue_size: int = 32
    cors_origins: tuple[str, ...] = ()
    max_pixels: int = 40_000_000

    @property
    def local_only(self) -> bool:
        """True when only this machine can reach the server (a loopback address or ``localhost``)."""
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        """The address to open in a browser (a wildcard host is shown as this machine's loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
