"""Matte quality against ground truth for files, per downsample ratio, backend and precision.

Every frame of the first ``--frames`` of each ground-truth clip (720p, known alpha; see
``groundtruth.py``) goes through livebg's frame step with its recurrent state carried, as ``livebg
video`` runs it, and each P3M portrait through one still pass; the 8-bit mattes are scored against the
truth. Printed per configuration: MAD, MSE, Grad and dtSSD over the clips (units as in the RVM paper:
MAD and MSE x 1e3 on [0, 1] alpha, Grad / 1e3, dtSSD x 1e2; lower is better), MAD and Grad over the
portraits, and the model's median ms per clip frame. A precision a backend does not offer, or that this
CPU cannot run (bf16 without bf16 instructions), is listed as skipped with the reason.

    python benchmarks/quality.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth
"""

from __future__ import annotations

import logging
import time

import groundtruth as gt

from livebg.config import ModelConfig
from livebg.errors import LivebgError
from livebg.matting import registry
from livebg.matting.backend import runtime_available


def main() -> None:
    parser = gt.argument_parser(__doc__)
    parser.add_argument("--frames", type=int, default=90, help="frames of each clip (default: 90, 3 s)")
    parser.add_argument("--ratios", default="0.125,0.1875,0.25,0.375,0.5")
    parser.add_argument(
        "--backends",
        default="auto",
        help="comma-separated of torch, onnxruntime, openvino; all: those installed; auto (default): the "
        "one livebg picks on this CPU",
    )
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated (default: fp32,bf16)")
    parser.add_argument("--no-stills", action="store_true", help="leave out the P3M portraits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    clips = gt.ground_truth_clips(args.clips.split(","), seconds=max(args.frames / gt.FPS, gt.SECONDS))
    stills = [] if args.no_stills else gt.portraits()
    ratios = [float(r) for r in args.ratios.split(",")]
    names = ", ".join(clip.name for clip in clips)
    height, width = gt.SIZE
    print(f"{len(clips)} clips x {args.frames} frames, {width}x{height} ({names}); {len(stills)} portraits")
    header = ["backend", "precision", "ratio", "MAD", "MSE", "Grad", "dtSSD", "still MAD", "still Grad", "ms"]
    rows: list[list[object]] = []
    skipped: list[str] = []
    offered = registry.get(registry.DEFAULT_MODEL).runtimes
    for backend in _backends(args.backends):
        for precision in args.precisions.split(","):
            if precision not in offered[backend]:
                skipped.append(f"{backend} {precision}: not offered by this runtime")
                continue
            for ratio in ratios:
                began = time.perf_counter()
                config = ModelConfig(
                    weights=args.weights,
                    device="cpu",
                    backend=backend,
                    precision=precision,
                    downsample_ratio=ratio,
                )
                try:
                    step = gt.alpha_step(config)
                except LivebgError as exc:  # e.g. bf16 on a CPU without bf16 instructions
                    skipped.append(f"{backend} {precision}: {exc}")
                    break
                scores = gt.Scores()
                for clip in clips:
                    scores.extend(gt.score_clip(step, clip, args.frames)[0])
                model_ms = step.timer.median_ms("model")
                still_scores = gt.Scores()
                for still in stills:
                    still_scores.extend(gt.score_still(step, still))
                m, s = scores.means(), still_scores.means()
                clip_metrics = [m["MAD"], m["MSE"], m["Grad"], m["dtSSD"]]
                rows.append([backend, precision, f"{ratio:g}", *clip_metrics, s["MAD"], s["Grad"], model_ms])
                print(f"  {backend} {precision} {ratio:g}: {time.perf_counter() - began:.0f} s", flush=True)
    print()
    print(gt.format_table(header, rows))
    print("MAD, MSE x 1e3; Grad / 1e3; dtSSD x 1e2 (clips); ms: the model's median per clip frame")
    for line in skipped:
        print(f"skipped: {line}")


def _backends(text: str) -> list[str]:
    if text == "auto":
        import torch

        from livebg.matting.backend import choose_backend

        return [choose_backend("auto", torch.device("cpu"))]
    if text == "all":
        return [backend for backend in registry.RUNTIMES if runtime_available(backend)]
    return text.split(",")


if __name__ == "__main__":
    main()
