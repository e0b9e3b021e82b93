"""Command-line interface: parses arguments into frozen configs, runs a command, and reports a
:class:`LivebgError` as one line with its exit code. The argparse namespace never leaves this module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from livebg.config import ModelConfig
from livebg.errors import Interrupted, LivebgError, UsageError

log = logging.getLogger("livebg")


# ---------------------------------------------------------------------------------------------------
# Options shared by the commands that run a model


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from livebg.matting.factory import REFINERS, model_names

    group = parser.add_argument_group("model")
    group.add_argument("--model", default="rvm-mobilenetv3", choices=model_names(), help="matting model")
    group.add_argument("--weights", type=Path, help="local checkpoint to use instead of the downloaded one")
    group.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"
    )
    group.add_argument(
        "--refiner", choices=REFINERS, help="RVM refiner (default: detected from the checkpoint)"
    )
    group.add_argument(
        "--downsample-ratio",
        type=_ratio,
        help="scale at which the network sees the frame, in (0, 1] (default: longer side near 512 px)",
    )
    group.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "fp16"), help="default: fp16 on CUDA"
    )
    group.add_argument(
        "--offline", action="store_true", help="never download weights (also LIVEBG_OFFLINE=1)"
    )


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; give a ratio in (0, 1], e.g. 0.375"
        ) from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 1]; give e.g. 0.25 for 4K or 0.5 for 720p")
    return value


def _model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(
        name=args.model,
        weights=args.weights,
        device=args.device,
        refiner=args.refiner,
        downsample_ratio=args.downsample_ratio,
        precision=args.precision,
        backend=args.backend,
        offline=args.offline,
    )


# ---------------------------------------------------------------------------------------------------
# livebg video


def _add_video_parser(sub: argparse._SubParsersAction) -> None:
    from livebg.transcode import OUTPUT_TYPES

    p = sub.add_parser(
        "video",
        help="replace the background of a video file",
        description="Replace the background of a video file. The output keeps the input's frames, "
        "timestamps, frame rate and audio; it is written under a temporary name and appears only when "
        "complete.",
    )
    p.add_argument("input", help="input video file or stream URL")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="output file (.mp4, .mkv, .mov, .webm) or a folder ending in / for PNG frames",
    )
    p.add_argument(
        "-b",
        "--background",
        default="green",
        help="image or video path, colour (green, #00b140, 0,177,64), blur[:1-100], transparent, none, "
        "or a bundled background name (default: green)",
    )
    p.add_argument(
        "--output-type", default="composite", choices=OUTPUT_TYPES, help="what to write (default: composite)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--no-audio", action="store_true", help="do not copy the input's audio")
    enc = p.add_argument_group("encoding")
    enc.add_argument(
        "--codec", help="video encoder (default: libx264; libvpx-vp9 for .webm; prores_ks for alpha .mov)"
    )
    enc.add_argument("--crf", type=int, help="quality, lower is better (default: 17 for H.264, 18 for VP9)")
    enc.add_argument("--preset", default="medium", help="H.264 speed preset (default: medium)")
    enc.add_argument("--pix-fmt", help="pixel format (default: yuv420p; yuva444p10le/yuva420p with alpha)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    _add_model_arguments(p)
    p.set_defaults(run=_run_video)


def _run_video(args: argparse.Namespace) -> int:
    from livebg.sinks.video_file import EncoderOptions
    from livebg.transcode import VideoJob, process_video

    job = VideoJob(
        input=args.input,
        output=args.output,
        background=args.background,
        output_type=args.output_type,
        overwrite=args.overwrite,
        audio=not args.no_audio,
        encoder=EncoderOptions(codec=args.codec, crf=args.crf, preset=args.preset, pixel_format=args.pix_fmt),
        model=_model_config(args),
    )
    result = process_video(job, progress=None if args.no_progress else _progress_bar)
    log.info(
        "wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps
    )
    return 0


def _progress_bar(total: int | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", dynamic_ncols=True, file=sys.stderr)


# ---------------------------------------------------------------------------------------------------
# livebg webcam


def _add_webcam_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("webcam", help="live: camera to preview window and/or virtual camera")
    p.set_defaults(run=_run_webcam)


def _run_webcam(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# livebg cameras


def _add_cameras_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cameras", help="list capture devices and their modes")
    p.set_defaults(run=_run_cameras)


def _run_cameras(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# livebg models


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list models and download their weights ahead of time")
    p.set_defaults(run=_run_models)


def _run_models(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# livebg bench


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure each stage of the pipeline for each available backend",
        description="Time per frame of decode, model, composite and encode, model-only and end-to-end "
        "frames per second, and capture-to-output latency, for each inference backend.",
    )
    p.add_argument("clip", nargs="?", type=Path, help="video to take frames from (default: synthetic frames)")
    p.add_argument("--frames", type=int, default=30, help="frames to measure (default: 30)")
    p.add_argument("--size", default="1280x720", help="synthetic frame size WIDTHxHEIGHT (default: 1280x720)")
    p.add_argument(
        "--backends", default="torch,onnxruntime,openvino", help="comma-separated backends to measure"
    )
    p.add_argument("-b", "--background", default="blur", help="background to composite (default: blur)")
    _add_model_arguments(p)
    p.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from livebg.bench import BenchConfig, format_table, run_bench

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {args.size!r} is not WIDTHxHEIGHT; write e.g. 1280x720") from None
    config = BenchConfig(
        clip=args.clip,
        frames=args.frames,
        size=(height, width),
        backends=tuple(b.strip() for b in args.backends.split(",") if b.strip()),
        background=args.background,
        model=_model_config(args),
    )
    results = []
    for result in run_bench(config):
        results.append(result)
        log.debug("%s", result)
    print(format_table(results))
    return 0


# ---------------------------------------------------------------------------------------------------

_PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_video_parser,
    _add_webcam_parser,
    _add_cameras_parser,
    _add_models_parser,
    _add_bench_parser,
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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr
    )
    try:
        return int(args.run(args) or 0)
    except LivebgError as exc:
        if args.verbose:
            log.exception("livebg: error")
        print(f"livebg: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livebg: interrupted", file=sys.stderr)
        return Interrupted.exit_code
