"""`livebg cameras`, `livebg models` and `livebg bench`: what this machine has and how fast it is."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from livebg.cli.options import add_model_arguments, model_config, positive_int
from livebg.errors import UsageError
from livebg.matting import registry

log = logging.getLogger("livebg")

# ---------------------------------------------------------------------------------------------------
# livebg cameras


def add_cameras_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cameras",
        help="list capture devices and their modes",
        description="List capture devices with their names and modes (pixel format, size, frame rates) "
        "where the platform tells them. Pass the index or path to `livebg webcam --camera`.",
    )
    p.add_argument(
        "--no-probe",
        action="store_true",
        help="do not open cameras to find their modes (names only where the platform gives them)",
    )
    p.set_defaults(run=_run_cameras)


def _run_cameras(args: argparse.Namespace) -> int:
    from livebg.cameras import format_cameras, list_cameras

    print(format_cameras(list_cameras(probe=not args.no_probe)))
    return 0


# ---------------------------------------------------------------------------------------------------
# livebg models


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list models and download their weights ahead of time",
        description="List the models that --model accepts, whether their weights are in the cache, their "
        "licence and what they are for. With --download, fetch weights now (e.g. before going offline) and, "
        "where an exported runtime runs RVM, export and compile its graph for 1280x720 frames, so the first "
        "live start needs neither. The cache folder is $LIVEBG_CACHE_DIR or the user cache folder; "
        "$LIVEBG_WEIGHTS_URL names a mirror to download from.",
    )
    p.add_argument(
        "--download",
        nargs="+",
        metavar="NAME",
        help="download the weights of these models into the cache (all: every downloadable model)",
    )
    p.add_argument("--no-progress", action="store_true", help="do not show the download progress bar")
    p.set_defaults(run=_run_models)


def _run_models(args: argparse.Namespace) -> int:
    from livebg import weights

    names = registry.names()
    if not args.download:
        print(weights.format_models(names))
        return 0
    wanted = names if "all" in args.download else tuple(dict.fromkeys(args.download))
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise UsageError(f"unknown model {unknown[0]!r}; --download accepts all, {', '.join(names)}")
    for name in wanted:
        path = weights.resolve_weights(name, progress=not args.no_progress)
        print(f"{name}: {path}", flush=True)
        if registry.get(name).kind == "rvm":
            _prepare_graph(name, path)
    return 0


def _prepare_graph(name: str, path: Path) -> None:
    """Export and compile ``name``'s graph for 720p frames at the automatic ratio where ``--backend
    auto`` picks an exported runtime (kept in the cache: the first start then skips both)."""
    from livebg.config import ModelConfig
    from livebg.errors import LivebgError
    from livebg.matting.factory import create_session

    try:
        session = create_session(ModelConfig(name=name, weights=path))
    except LivebgError as exc:  # the download itself succeeded; the first start will say it again
        log.warning("%s: graph not prepared: %s", name, exc)
        return
    if session.backend in ("openvino", "onnxruntime"):
        session.prepare(720, 1280)
        print(f"{name}: graph exported and compiled for 1280x720 frames ({session.backend})")


# ---------------------------------------------------------------------------------------------------
# livebg bench


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure each stage of the pipeline for each available backend",
        description="Time per frame of decode, model, composite and encode, model-only and end-to-end "
        "frames per second, and capture-to-output latency, for each inference backend.",
    )
    p.add_argument("clip", nargs="?", type=Path, help="video to take frames from (default: synthetic frames)")
    p.add_argument("--frames", type=positive_int, default=30, help="frames to measure (default: 30)")
    p.add_argument("--size", default="1280x720", help="synthetic frame size WIDTHxHEIGHT (default: 1280x720)")
    p.add_argument(
        "--backends", default="torch,onnxruntime,openvino", help="comma-separated backends to measure"
    )
    p.add_argument("-b", "--background", default="blur", help="background to composite (default: blur)")
    add_model_arguments(p)
    p.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from livebg.bench import BenchConfig, format_table, run_bench
    from livebg.machine import cpu_summary

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {args.size!r} is not WIDTHxHEIGHT; write e.g. 1280x720") from None
    if min(width, height) < 2 or width % 2 or height % 2:
        # The synthetic frames are encoded as a 4:2:0 H.264 clip, whose sides are even.
        raise UsageError(f"--size {args.size} is not accepted; give even sides of 2 or more, e.g. 1280x720")
    config = BenchConfig(
        clip=args.clip,
        frames=args.frames,
        size=(height, width),
        backends=tuple(b.strip() for b in args.backends.split(",") if b.strip()),
        background=args.background,
        model=model_config(args),
    )
    print(f"cpu: {cpu_summary()}", flush=True)
    results = []
    for result in run_bench(config):
        results.append(result)
        log.debug("%s", result)
    print(format_table(results))
    return 0
