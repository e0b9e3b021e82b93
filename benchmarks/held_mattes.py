"""A fresh matte from a small input on every frame, against an older matte from a larger one: which is
closer to the truth? Offline, so the answer does not depend on this machine's speed.

For each ground-truth clip (720p, known alpha; see ``groundtruth.py``) and each ``ratio:k`` setting,
the network (OpenVINO fp32, as live mode runs it) sees every ``k``-th frame, its recurrent state
carried from one to the next. Frame ``t`` is then scored with the matte live mode would show on it:

- ``every frame`` (``k`` = 1): its own;
- ``held``: the newest matte finished before it, when each takes ``k`` frames to make and the network
  starts on the newest frame as soon as it is free (live mode's worker): frames ``s + k`` to
  ``s + 2k - 1`` show the matte of frame ``s``, 4 to 7 frames old for ``k`` = 4.

Printed: MAD, Grad and dtSSD per setting over the clips (units as in ``groundtruth.py``), frames
``2k`` on of each clip.

    python benchmarks/held_mattes.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth
"""

from __future__ import annotations

import logging

import groundtruth as gt

from livebg.config import ModelConfig
from livebg.frames import Frame
from livebg.step import alpha_picture


def main() -> None:
    parser = gt.argument_parser(__doc__)
    parser.add_argument("--frames", type=int, default=120, help="frames of each clip (default: 120, 4 s)")
    parser.add_argument(
        "--settings",
        default="0.125:1,0.25:1,0.375:1,0.25:3,0.375:4,0.375:5,0.5:5,0.5:7",
        help="comma-separated ratio:k (k = 1: every frame its own matte)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    weights = args.weights if args.weights.is_file() else None
    clips = gt.ground_truth_clips(args.clips.split(","), gt.SECONDS)
    settings = [(float(r), int(k)) for r, k in (item.split(":") for item in args.settings.split(","))]
    print(f"{len(clips)} clips x {args.frames} frames, {gt.SIZE[1]}x{gt.SIZE[0]}; OpenVINO fp32", flush=True)
    rows = []
    for ratio, k in settings:
        model = ModelConfig(weights=weights, device="cpu", precision="fp32", downsample_ratio=ratio)
        step = gt.alpha_step(model)
        scores = gt.Scores()
        for clip in clips:
            frames = list(clip.frames(args.frames))
            step.reset()
            mattes = {}
            for s in range(0, len(frames), k):
                frame = Frame(frames[s], index=s, time=s / clip.fps)
                item = step.matte([frame], stream=clip.name, force=True)[0]
                mattes[s] = gt.as_alpha(alpha_picture(item)[..., 0])
            clip_scores = gt.Scores()
            for t in range(2 * k if k > 1 else 0, len(frames)):
                shown = mattes[t] if k == 1 else mattes[(t // k - 1) * k]
                clip_scores.add(shown, gt.as_alpha(clip.truth(t)))
            scores.extend(clip_scores)
        m = scores.means()
        what = "every frame" if k == 1 else f"held, {k} to {2 * k - 1} frames old"
        rows.append([f"{ratio:g}", k, what, m["MAD"], m["Grad"], m["dtSSD"]])
        print(f"  {ratio:g}:{k} done", flush=True)
    print()
    print(gt.format_table(["ratio", "k", "matte shown", "MAD", "Grad", "dtSSD"], rows))
    print("MAD x 1e3; Grad / 1e3; dtSSD x 1e2")


if __name__ == "__main__":
    main()
