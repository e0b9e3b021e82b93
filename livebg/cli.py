"""Command-line interface: parses arguments into frozen configs, runs a command, and reports a
:class:`LivebgError` as one line with its exit code. The argparse namespace never leaves this module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from livebg.config import OUTPUT_TYPES, REFINERS, ModelConfig
from livebg.errors import Interrupted, LivebgError, UsageError
from livebg.matting import registry
from livebg.terminal import QuietStream, StopSignals

log = logging.getLogger("livebg")


# ---------------------------------------------------------------------------------------------------
# Options shared by the commands that run a model


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=registry.DEFAULT_MODEL,
        choices=registry.names(),
        help="matting model (livebg models lists them)",
    )
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
        "--backend",
        default="auto",
        choices=("auto", *registry.RUNTIMES),
        help="inference runtime (default: auto, the fastest available for the device)",
    )
    group.add_argument(
        "--precision",
        default="auto",
        choices=("auto", *registry.PRECISIONS),
        help="default: fp16 on CUDA, else fp32; bf16: the decoder in bf16 with --backend openvino "
        "(faster on CPUs with bf16, alpha within 3/255)",
    )
    group.add_argument(
        "--offline", action="store_true", help="never download weights (also LIVEBG_OFFLINE=1)"
    )
    seg = parser.add_argument_group(f"segmentation models ({', '.join(registry.names('segmentation'))})")
    seg.add_argument(
        "--keep-classes",
        default="person",
        type=_class_list,
        help="comma-separated VOC classes kept in front of the background, e.g. person,dog,cat "
        "(default: person)",
    )
    seg.add_argument(
        "--no-smoothing", dest="smoothing", action="store_false", help="no temporal smoothing of the mask"
    )
    seg.add_argument(
        "--no-refine-edges",
        dest="refine_edges",
        action="store_false",
        help="no guided-filter refinement of the mask's edges against the frame",
    )


def _target_fps(text: str) -> float | str | None:
    if text in ("camera", "off"):
        return None if text == "off" else text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame rate; give e.g. 30, camera or off"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive frame rate")
    return value


def _class_list(text: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in text.split(",") if name.strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number; give 1 or more")
    return value


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


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The model options as the keywords of :class:`livebg.Matter`."""
    return {
        "model": args.model,
        "weights": args.weights,
        "device": args.device,
        "refiner": args.refiner,
        "downsample_ratio": args.downsample_ratio,
        "precision": args.precision,
        "backend": args.backend,
        "offline": args.offline,
        "keep_classes": args.keep_classes,
        "smoothing": args.smoothing,
        "refine_edges": args.refine_edges,
    }


def _model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig.create(**_model_options(args))


# ---------------------------------------------------------------------------------------------------
# livebg video


def _add_video_parser(sub: argparse._SubParsersAction) -> None:
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
    _add_model_arguments(p)
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=1,
        help="consecutive frames the model sees at once (default: 1); a few may keep a GPU busier, "
        "the output is the same",
    )
    p.set_defaults(run=_run_video)


def _add_trim_arguments(p: argparse.ArgumentParser) -> None:
    trim = p.add_argument_group("part of a clip (as ffmpeg's -ss, -to, -t, -frames:v; exact to the frame)")
    trim.add_argument(
        "--start", type=_time, metavar="TIME", help="first time kept: seconds or [HH:]MM:SS[.ms]"
    )
    trim.add_argument("--end", type=_time, metavar="TIME", help="stop before this time of the input")
    trim.add_argument("--duration", type=_time, metavar="TIME", help="keep this long from --start")
    trim.add_argument("--frames", type=_positive_int, metavar="N", help="keep at most N frames")
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
        "--ray-workers", type=_positive_int, metavar="N", help="Ray workers (default: as many as fit)"
    )
    batch.add_argument(
        "--chunk-seconds",
        type=_positive_float,
        metavar="N",
        help="cut each clip into chunks of about N seconds at keyframes, process them apart (at once "
        "on Ray workers) and join them without re-encoding",
    )
    batch.add_argument(
        "--chunk-warmup",
        type=_non_negative_int,
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
        **_model_options(args),
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

    bar = _ProgressBar(enabled=not args.no_progress)
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

    bars = _TaskBars(enabled=not args.no_progress)
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


def _time(text: str) -> float:
    """Seconds from ``12.5``, ``1:02.5`` or ``1:00:02.5``."""
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        parts = []
    if not 1 <= len(parts) <= 3 or any(part < 0 for part in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; give seconds (12.5) or [HH:]MM:SS (1:02.5)"
        )
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


class _ProgressBar:
    """A progress callback (``done``, ``total``) drawing a tqdm bar on stderr, made on the first call;
    ``label`` is shown before it."""

    def __init__(self, *, enabled: bool, label: str | None = None) -> None:
        self.enabled = enabled
        self.label = label
        self._bar: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            # A closed terminal or pipe must not fail the job: the bar then draws into nothing.
            self._bar = tqdm(
                total=total, desc=self.label, unit="frame", dynamic_ncols=True, file=QuietStream(sys.stderr)
            )
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _TaskBars:
    """A batch's progress: for each input, a bar labelled with its place in the batch and its name."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: _ProgressBar | None = None

    def __call__(self, position: int, count: int, task: Any) -> _ProgressBar | None:
        self.close()
        if not self.enabled:
            return None
        self._bar = _ProgressBar(enabled=True, label=f"[{position}/{count}] {task.key}")
        return self._bar

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# ---------------------------------------------------------------------------------------------------
# livebg webcam


def _add_webcam_parser(sub: argparse._SubParsersAction) -> None:
    from livebg.sinks.virtual_camera import LINUX_DRIVER_COMMAND
    from livebg.sinks.window import hotkeys_help

    def positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
        def parse(text: str) -> Any:
            try:
                value = kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
            if not value > 0:
                raise argparse.ArgumentTypeError(f"{text} is not positive")
            return value

        return parse

    positive_int, positive_float = positive(int), positive(float)
    p = sub.add_parser(
        "webcam",
        help="live: camera to preview window and/or virtual camera",
        description="Live: replace the background of a camera's picture and show it in a preview window, "
        "send it to a virtual camera that video-call programs can pick (--virtual-camera), and/or record "
        "it. The preview is mirrored, as video-call programs show you to yourself; the virtual camera "
        "and the recording are not. Unplugging the camera does not stop the program: it reconnects.",
        epilog="hotkeys in the preview window:\n"
        + hotkeys_help()
        + "\n  (closing the window also quits; without a window, Ctrl-C stops)\n\n"
        "virtual camera drivers: on Linux load v4l2loopback with\n  "
        + LINUX_DRIVER_COMMAND
        + "\non Windows and macOS install OBS Studio and start its Virtual Camera once.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cam = p.add_argument_group("capture")
    cam.add_argument(
        "--camera",
        default="0",
        help="camera index (0), device path (/dev/video2), video file or stream URL; a file plays at its "
        "own frame rate, like a camera (default: 0)",
    )
    cam.add_argument("--width", type=positive_int, help="requested capture width in pixels")
    cam.add_argument("--height", type=positive_int, help="requested capture height in pixels")
    cam.add_argument("--fps", type=positive_float, help="requested capture frame rate")
    cam.add_argument("--loop", action="store_true", help="restart a video file given as --camera at its end")
    p.add_argument(
        "-b",
        "--background",
        default="blur",
        help="image or video path, colour (green, #00b140, 0,177,64), blur[:1-100], none, or a bundled "
        "background name; n/p cycle through the bundled ones (default: blur)",
    )
    out = p.add_argument_group("outputs")
    out.add_argument("--no-window", action="store_true", help="no preview window (headless)")
    out.add_argument("--no-mirror", action="store_true", help="do not mirror the preview window")
    out.add_argument(
        "--mirror-output", action="store_true", help="mirror the virtual camera and the recording too"
    )
    out.add_argument("--no-hud", action="store_true", help="start with the HUD hidden (h shows it)")
    out.add_argument(
        "--virtual-camera", action="store_true", help="send the result to a virtual camera (pyvirtualcam)"
    )
    out.add_argument(
        "--virtual-camera-backend",
        metavar="NAME",
        help="pyvirtualcam backend: v4l2loopback (Linux), obs, unitycapture (default: the first that works)",
    )
    out.add_argument(
        "--virtual-camera-device", metavar="DEVICE", help="virtual camera device, e.g. /dev/video10"
    )
    out.add_argument(
        "--virtual-camera-fps",
        type=positive_float,
        metavar="FPS",
        help="frame rate of the virtual camera (default: the camera's)",
    )
    out.add_argument(
        "--record", type=Path, metavar="OUTPUT", help="also record the result to this video file"
    )
    out.add_argument("--overwrite", action="store_true", help="replace the --record file if it exists")
    out.add_argument(
        "--snapshot-dir",
        type=Path,
        default=Path(),
        help="folder for snapshots (s key), numbered livebg-NNNN.png, never overwritten (default: .)",
    )
    p.add_argument(
        "--target-fps",
        default="camera",
        type=_target_fps,
        help="hold this frame rate by lowering the model's input size when it falls behind (and raising "
        "it again when there is room): a number, 'camera' (its own rate; the default unless "
        "--downsample-ratio is given) or 'off'",
    )
    p.add_argument("--duration", type=positive_float, metavar="SECONDS", help="stop after this many seconds")
    _add_model_arguments(p)
    p.set_defaults(run=_run_webcam)


def _run_webcam(args: argparse.Namespace) -> int:
    import livebg.live
    from livebg.config import CaptureSettings
    from livebg.live import LiveConfig

    config = LiveConfig(
        capture=CaptureSettings(
            camera=args.camera, width=args.width, height=args.height, fps=args.fps, loop=args.loop
        ),
        background=args.background,
        model=_model_config(args),
        window=not args.no_window,
        mirror_preview=not args.no_mirror,
        mirror_output=args.mirror_output,
        hud=not args.no_hud,
        virtual_camera=args.virtual_camera,
        virtual_camera_backend=args.virtual_camera_backend,
        virtual_camera_device=args.virtual_camera_device,
        virtual_camera_fps=args.virtual_camera_fps,
        record=args.record,
        overwrite=args.overwrite,
        snapshot_dir=args.snapshot_dir,
        # An explicit --downsample-ratio is the user's choice: it is held unless a rate is asked for too.
        target_fps=None if args.target_fps == "camera" and args.downsample_ratio else args.target_fps,
        duration=args.duration,
    )
    livebg.live.check_live_config(config)  # before torch is imported: refusals come at once
    livebg.live.run_live(config)
    return 0


# ---------------------------------------------------------------------------------------------------
# livebg cameras


def _add_cameras_parser(sub: argparse._SubParsersAction) -> None:
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


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list models and download their weights ahead of time",
        description="List the models that --model accepts, whether their weights are in the cache, their "
        "licence and what they are for. With --download, fetch weights now (e.g. before going offline). "
        "The cache folder is $LIVEBG_CACHE_DIR or the user cache folder; $LIVEBG_WEIGHTS_URL names a "
        "mirror to download from.",
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
        print(f"{name}: {path}")
    return 0


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
# livebg serve


def _add_serve_parser(sub: argparse._SubParsersAction) -> None:
    def positive(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not positive")
        return value

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
        "--max-upload", type=positive, default=256, metavar="MB", help="largest upload (default: 256)"
    )
    limits.add_argument(
        "--time-limit",
        type=positive,
        default=15,
        metavar="MINUTES",
        help="longest a job may run (default: 15)",
    )
    limits.add_argument(
        "--keep-results",
        type=positive,
        default=60,
        metavar="MINUTES",
        help="how long finished results stay downloadable (default: 60)",
    )
    limits.add_argument(
        "--disk-limit",
        type=positive,
        default=2048,
        metavar="MB",
        help="uploads and results together (default: 2048)",
    )
    limits.add_argument(
        "--concurrency", type=_positive_int, default=1, help="jobs that run the model at once (default: 1)"
    )
    limits.add_argument(
        "--queue-size", type=_positive_int, default=32, help="jobs that may wait (default: 32)"
    )
    _add_model_arguments(p)
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
    run_server(config, _model_options(args))
    return 0


# ---------------------------------------------------------------------------------------------------

_PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_video_parser,
    _add_webcam_parser,
    _add_cameras_parser,
    _add_models_parser,
    _add_bench_parser,
    _add_serve_parser,
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
