"""`livebg serve`: the web page and HTTP API."""


from __future__ import annotations

import argparse
import logging
import os

from livebg.cli.options import add_model_arguments, model_options, positive_float, positive_int

log = logging.getLogger("livebg")

# ---------------------------------------------------------------------------------------------------
# livebg serve


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    def port(text: str) -> int:
        if not text.isdigit() or int(text) > 65535:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port; give 0 (any free one) to 65535")
        return int(text)

    p = sub.add_parser(
        "serve",
        help="a web page and an HTTP API on this machine",
        description="Serve a web page (drop a picture or a clip, choose a background, download the result) "
        "and an HTTP API (described at /docs) that use one model loaded at start-up. Uploads and results "
        "live in a private temporary folder, deleted after --keep-results and when the server stops. "
        "Needs the web extra: pip install 'livebg[web]'.",
    )
    net = p.add_argument_group("network")
    net.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    net.add_argument(
        "--port", type=port, default=8000, help="port to listen on, 0 for any free one (default: 8000)"
    )
    net.add_argument(
        "--token",
        default=os.environ.get("LIVEBG_TOKEN") or None,
        help="access token every request must carry (default: $LIVEBG_TOKEN, which other users cannot see in "
        "the process list; made up and printed when --host reaches beyond this machine)",
    )
    net.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages from this origin call the API, e.g. https://example.org (repeatable; default: none)",
    )
    limits = p.add_argument_group("limits")
    limits.add_argument(
        "--max-upload", type=positive_float, default=256, metavar="MB", help="largest upload (default: 256)"
    )
    limits.add_argument(
        "--time-limit",
        type=positive_float,
        default=15,
        metavar="MINUTES",
        help="longest a job may run (default: 15)",
    )
    limits.add_argument(
        "--keep-results",
        type=positive_float,
        default=60,
        metavar="MINUTES",
        help="how long finished results stay downloadable (default: 60)",
    )
    limits.add_argument(
        "--disk-limit",
        type=positive_float,
        default=2048,
        metavar="MB",
        help="uploads and results together (default: 2048)",
    )
    limits.add_argument(
        "--concurrency", type=positive_int, default=1, help="jobs that run the model at once (default: 1)"
    )
    limits.add_argument(
        "--queue-size", type=positive_int, default=32, help="jobs that may wait (default: 32)"
    )
    add_model_arguments(p)
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from livebg.serve.config import MB, ServeConfig
    from livebg.serve.server import run_server

    config = ServeConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        max_upload_bytes=int(args.max_upload * MB),
        time_limit=args.time_limit * 60,
        retention=args.keep_results * 60,
        disk_limit_bytes=int(args.disk_limit * MB),
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        cors_origins=tuple(args.cors_origin),
    )
    run_server(config, model_options(args))
    return 0
