"""Command-line interface: parses arguments into frozen configs, runs a command, and reports a
:class:`LivebgError` as one line with its exit code. The argparse namespace never leaves this package:
each command has its module (``video``, ``webcam``, ``info``, ``serve``), their shared options are in
``options``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from livebg.cli.info import add_bench_parser, add_cameras_parser, add_models_parser
from livebg.cli.serve import add_serve_parser
from livebg.cli.video import add_video_parser
from livebg.cli.webcam import add_webcam_parser
from livebg.errors import Interrupted, LivebgError
from livebg.terminal import QuietStream, StopSignals

log = logging.getLogger("livebg")

# ---------------------------------------------------------------------------------------------------

_PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_video_parser,
    add_webcam_parser,
    add_cameras_parser,
    add_models_parser,
    add_bench_parser,
    add_serve_parser,
)


def build_parser() -> argparse.ArgumentParser:
    from livebg import __version__

    parser = argparse.ArgumentParser(
        prog="livebg", description="Replace the background of a person's video, live or from a file."
    )
    parser.add_argument("--version", action="version", version=f"livebg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _PARSERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stderr = QuietStream(sys.stderr)  # log lines never fail a job, even into a closed pipe
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=stderr
    )
    # SIGTERM and SIGHUP stop the work like Ctrl-C, and a second one cannot cut the cleanup short.
    with StopSignals() as signals:
        try:
            return int(args.run(args) or 0)
        except LivebgError as exc:
            if args.verbose:
                log.exception("livebg: error")
            print(f"livebg: error: {exc}", file=stderr)
            if isinstance(exc, Interrupted):
                return signals.exit_code or exc.exit_code
            return exc.exit_code
        except KeyboardInterrupt:
            print("livebg: interrupted", file=stderr)
            return signals.exit_code or Interrupted.exit_code
