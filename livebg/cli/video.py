"""`livebg video`: one or several inputs through the file pipeline (or a batch, or Ray)."""


from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from livebg.cli.options import (
    ProgressBar,
    TaskBars,
    add_model_arguments,
    model_options,
    non_negative_int,
    positive_float,
    positive_int,
    time_type,
)
from livebg.config import OUTPUT_TYPES

log = logging.getLogger("livebg")

# ---------------------------------------------------------------------------------------------------
# livebg video


def add_video_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="replace the background of a video file",
        description="Replace the background of a video file. The output keeps the input's frames, "
        "timestamps, frame rate and audio; it is written under a temporary name and appears only when "
        "complete.",
    )
    p.add_argument(
        "input",
        nargs="+",
        help="input video or picture file or stream URL; several inputs, folders, quoted globs "
        "('clips/*.mp4') and @list.txt files (one path or URL a line) make a batch into the folder -o",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="output file (.mp4, .mkv, .mov, .webm) or a folder ending in / for PNG frames; "
        "for a batch, the folder that receives the outputs",
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
    p.add_argument(
        "--allow-truncated",
        action="store_true",
        help="keep the readable part of a cut-off input (with a warning) instead of refusing it",
    )
    enc = p.add_argument_group("encoding")
    enc.add_argument(
        "--codec", help="video encoder (default: libx264; libvpx-vp9 for .webm; prores_ks for alpha .mov)"
    )
    enc.add_argument("--crf", type=int, help="quality, lower is better (default: 17 for H.264, 18 for VP9)")
    enc.add_argument("--preset", default="medium", help="H.264 speed preset (default: medium)")
    enc.add_argument("--pix-fmt", help="pixel format (default: yuv420p; yuva444p10le/yuva420p with alpha)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    _add_trim_arguments(p)
    _add_batch_arguments(p)
    add_model_arguments(p)
    p.add_argument(
        "--batch",
        type=positive_int,
        default=1,
        help="consecutive frames the model sees at once (default: 1); a few may keep a GPU busier, "
        "the output is the same",
    )
    p.set_defaults(run=_run_video)


def _add_trim_arguments(p: argparse.ArgumentParser) -> None:
    trim = p.add_argument_group("part of a clip (as ffmpeg's -ss, -to, -t, -frames:v; exact to the frame)")
    trim.add_argument(
        "--start", type=time_type, metavar="TIME", help="first time kept: seconds or [HH:]MM:SS[.ms]"
    )
    trim.add_argument("--end", type=time_type, metavar="TIME", help="stop before this time of the input")
    trim.add_argument("--duration", type=time_type, metavar="TIME", help="keep this long from --start")
    trim.add_argument("--frames", type=positive_int, metavar="N", help="keep at most N frames")
    more = p.add_argument_group("further outputs from the same pass")
    more.add_argument("--alpha-output", type=Path, metavar="PATH", help="also write the matte (grey) here")
    more.add_argument(
        "--foreground-output", type=Path, metavar="PATH", help="also write the person's colours here"
    )


def _add_batch_arguments(p: argparse.ArgumentParser) -> None:
    from livebg.config import IMAGE_FORMATS, VIDEO_FORMATS

    batch = p.add_argument_group(
        "many inputs (outputs mirror the inputs' paths; a rerun skips outputs already made, as "
        ".livebg-manifest.json in the output folder records)"
    )
    batch.add_argument("-r", "--recursive", action="store_true", help="descend into subfolders of folders")
    batch.add_argument(
        "--format",
        choices=VIDEO_FORMATS,
        help="container of the output clips (default: the input's; mov for transparent output)",
    )
    batch.add_argument(
        "--image-format",
        choices=IMAGE_FORMATS,
        help="format of the output stills (default: the input's; png for transparent output)",
    )
    batch.add_argument("--suffix", default="", help="text added to each output's name, e.g. _nobg")
    batch.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run each input as a task on a Ray cluster: auto, ray://HOST:10001 or HOST:6379 "
        "(without ADDRESS: a Ray started on this machine); needs pip install 'livebg[ray]'",
    )
    batch.add_argument(
        "--ray-gpus", type=float, default=0, metavar="N", help="GPUs per Ray worker (default: 0, CPU)"
    )
    batch.add_argument(
        "--ray-workers", type=positive_int, metavar="N", help="Ray workers (default: as many as fit)"
    )
    batch.add_argument(
        "--chunk-seconds",
        type=positive_float,
        metavar="N",
        help="cut each clip into chunks of about N seconds at keyframes, process them apart (at once "
        "on Ray workers) and join them without re-encoding",
    )
    batch.add_argument(
        "--chunk-warmup",
        type=non_negative_int,
        metavar="W",
        help="frames before each chunk shown to the model so its state settles (default: measured, "
        "see README)",
    )


def _run_video(args: argparse.Namespace) -> int:
    from livebg.batch.inputs import is_batch

    trim = {"start": args.start, "end": args.end, "duration": args.duration, "frames": args.frames}
    options = {
        "background": args.background,
        "output_type": args.output_type,
        "audio": not args.no_audio,
        "codec": args.codec,
        "crf": args.crf,
        "preset": args.preset,
        "pix_fmt": args.pix_fmt,
        "batch": args.batch,
        "allow_truncated": args.allow_truncated,
        **{key: value for key, value in trim.items() if value is not None},
        **model_options(args),
    }
    if is_batch(args.input) or args.ray is not None or args.chunk_seconds is not None:
        return _run_video_batch(args, options)
    from livebg.sinks.encoding import VIDEO_SUFFIXES, EncoderOptions
    from livebg.sinks.png_sequence import is_png_sequence
    from livebg.sinks.safe_write import check_output, existing_paths

    # What needs no model is checked before torch loads (seconds), as the sinks check it again.
    folder = is_png_sequence(args.output)
    protect = existing_paths(args.input[0], args.background, args.weights)
    check_output(args.output, overwrite=args.overwrite, protect=protect, folder=folder)
    if not folder and args.output.suffix.lower() in VIDEO_SUFFIXES:
        encoder = EncoderOptions(
            codec=args.codec, crf=args.crf, preset=args.preset, pixel_format=args.pix_fmt
        )
        transparent = args.output_type == "composite" and args.background.strip().lower() == "transparent"
        encoder.check(args.output, alpha=transparent)

    from livebg.api import process

    bar = ProgressBar(enabled=not args.no_progress)
    try:
        result = process(
            args.input[0],
            args.output,
            overwrite=args.overwrite,
            alpha_output=args.alpha_output,
            foreground_output=args.foreground_output,
            progress=bar,
            **options,
        )
    finally:
        bar.close()
    log.info(
        "wrote %s: %d frames in %.1f s (%.1f fps)", result.output, result.frames, result.seconds, result.fps
    )
    return 0


def _run_video_batch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    from livebg.batch.job import process_batch

    bars = TaskBars(enabled=not args.no_progress)
    try:
        result = process_batch(
            args.input,
            args.output,
            recursive=args.recursive,
            video_format=args.format,
            image_format=args.image_format,
            suffix=args.suffix,
            alpha_output=args.alpha_output,
            foreground_output=args.foreground_output,
            overwrite=args.overwrite,
            chunk_seconds=args.chunk_seconds,
            warmup=args.chunk_warmup,
            ray=args.ray,
            ray_gpus=args.ray_gpus,
            ray_workers=args.ray_workers,
            on_task=None if args.ray is not None else bars,  # Ray logs each finished input instead
            **options,
        )
    finally:
        bars.close()
    log.info("%s", result.summary())
    if not result.ok:
        print(
            f"livebg: error: {len(result.failed)} of {result.total} inputs failed (listed above)",
            file=sys.stderr,
        )
        return 1
    return 0
