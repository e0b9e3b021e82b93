"""What several commands share: the model options, argument types, progress bars."""


from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from livebg.config import REFINERS, ModelConfig
from livebg.matting import registry
from livebg.terminal import QuietStream

log = logging.getLogger("livebg")


# ---------------------------------------------------------------------------------------------------
# Options shared by the commands that run a model


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
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
        type=ratio_type,
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
        "(faster on CPUs with bf16; error against ground truth unchanged, single edge pixels differ "
        "from fp32 by up to ~18/255)",
    )
    group.add_argument(
        "--offline", action="store_true", help="never download weights (also LIVEBG_OFFLINE=1)"
    )
    seg = parser.add_argument_group(f"segmentation models ({', '.join(registry.names('segmentation'))})")
    seg.add_argument(
        "--keep-classes",
        default="person",
        type=class_list,
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


def target_fps_type(text: str) -> float | str | None:
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


def class_list(text: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in text.split(",") if name.strip())


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number; give 1 or more")
    return value


def ratio_type(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; give a ratio in (0, 1], e.g. 0.375"
        ) from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 1]; give e.g. 0.25 for 4K or 0.5 for 720p")
    return value


def model_options(args: argparse.Namespace) -> dict[str, Any]:
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


def model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig.create(**model_options(args))



def time_type(text: str) -> float:
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


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


class ProgressBar:
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


class TaskBars:
    """A batch's progress: for each input, a bar labelled with its place in the batch and its name."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: ProgressBar | None = None

    def __call__(self, position: int, count: int, task: Any) -> ProgressBar | None:
        self.close()
        if not self.enabled:
            return None
        self._bar = ProgressBar(enabled=True, label=f"[{position}/{count}] {task.key}")
        return self._bar

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
