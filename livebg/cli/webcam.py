"""`livebg webcam`: live mode."""


from __future__ import annotations

import argparse
import logging
from pathlib import Path

from livebg.cli.options import (
    add_model_arguments,
    model_config,
    positive_float,
    positive_int,
    target_fps_type,
)
from livebg.config import OUTPUT_TYPES

log = logging.getLogger("livebg")

# ---------------------------------------------------------------------------------------------------
# livebg webcam


def add_webcam_parser(sub: argparse._SubParsersAction) -> None:
    from livebg.sinks.virtual_camera import LINUX_DRIVER_COMMAND
    from livebg.sinks.window import hotkeys_help

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
        "--output-type",
        default="composite",
        choices=OUTPUT_TYPES,
        help="what every output gets: the composite, the matte as grey (alpha: key with it, e.g. in OBS) "
        "or the person's colours (foreground) (default: composite)",
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
        type=target_fps_type,
        help="the frame rate the model's pace is measured in: a new matte every --matte-every frames of it, "
        "held by lowering the model's input size when the model falls behind (and raising it again when "
        "there is room). A number, 'camera' (its own rate, at most 30; the default unless "
        "--downsample-ratio is given) or 'off' (the input size stays). The picture itself always keeps "
        "the camera's rate",
    )
    p.add_argument(
        "--cpu-budget",
        metavar="CORES",
        help="leave the rest of the CPU to other programs (a video call): stay within this many cores "
        "(1, 1.5) or this share of the machine (50%%), by making mattes less often and then by lowering "
        "the model's input size",
    )
    p.add_argument(
        "--matte-every",
        type=positive_int,
        metavar="N",
        help="start a new matte at most every N-th frame (default 4): every frame is shown at once, cut "
        "out with the newest matte, and the model gets the largest input size this pace allows "
        "(measured against ground truth, size matters more than a matte's age of a few frames)",
    )
    p.add_argument("--duration", type=positive_float, metavar="SECONDS", help="stop after this many seconds")
    add_model_arguments(p)
    p.set_defaults(run=_run_webcam)


def _run_webcam(args: argparse.Namespace) -> int:
    import dataclasses

    import livebg.live
    from livebg.config import CaptureSettings
    from livebg.live import LiveConfig
    from livebg.live.budget import inference_threads, parse_cpu_budget

    budget = None if args.cpu_budget is None else parse_cpu_budget(args.cpu_budget)

    config = LiveConfig(
        capture=CaptureSettings(
            camera=args.camera, width=args.width, height=args.height, fps=args.fps, loop=args.loop
        ),
        background=args.background,
        model=dataclasses.replace(model_config(args), threads=inference_threads(budget)),
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
        cpu_budget=budget,
        matte_every=args.matte_every,
        duration=args.duration,
        output_type=args.output_type,
    )
    livebg.live.check_live_config(config)  # before torch is imported: refusals come at once
    livebg.live.run_live(config)
    return 0
