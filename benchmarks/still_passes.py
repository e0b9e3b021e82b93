"""How many times a still must be shown to RVM before its matte settles (``livebg.api.STILL_PASSES``).

RVM is a recurrent network: on a still its first frame is its worst. This feeds each portrait with a
reference alpha (the P3M portraits in ``shared/data``) to one stream up to ``--passes`` times and
prints, after each pass, the mean absolute error of the alpha against the reference (in 1/255) and its
change relative to the first pass; the last line is the smallest pass count whose median error is
within 1% of the best.

    python benchmarks/still_passes.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth \
        --data ../shared/data
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import cv2
import numpy as np

from livebg.api import Matter, read_image


def errors_by_pass(matter: Matter, image: Path, reference: Path, passes: int) -> list[float]:
    """Mean absolute alpha error (1/255) against ``reference`` after each of ``passes`` passes."""
    truth = cv2.imread(str(reference), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    rgb = read_image(image)
    stream = matter.stream()
    return [float(np.abs(stream(rgb).alpha * 255 - truth).mean()) for _ in range(passes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--downsample-ratio", type=float, help="default: automatic")
    args = parser.parse_args()

    matter = Matter(weights=args.weights, backend=args.backend, downsample_ratio=args.downsample_ratio)
    print(f"{matter.description}; MAD against the reference alpha, in 1/255, after each pass")
    table = {}
    for reference in sorted(args.data.glob("*_p3mnet_alpha.png")):
        image = reference.with_name(reference.name.replace("_p3mnet_alpha.png", ".jpg"))
        table[image.stem] = errors_by_pass(matter, image, reference, args.passes)
    print(f"{'pass':>4} " + " ".join(f"{name[-11:]:>11}" for name in table) + "   median  vs pass 1")
    medians = []
    for i in range(args.passes):
        row = [errors[i] for errors in table.values()]
        relative = statistics.median(errors[i] / errors[0] - 1 for errors in table.values())
        medians.append(statistics.median(row))
        cells = " ".join(f"{value:>11.2f}" for value in row)
        print(f"{i + 1:>4} {cells}   {medians[-1]:6.2f}  {100 * relative:+6.1f}%")
    best = min(medians)
    settled = next(i + 1 for i, m in enumerate(medians) if m <= best * 1.01)
    print(f"settled (median within 1% of the best, {best:.2f}) after {settled} passes")


if __name__ == "__main__":
    main()
