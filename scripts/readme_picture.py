"""Renders the README picture: a frame of a clip, left as it was, right with its background replaced.

    python scripts/readme_picture.py ../shared/data/woman_indoor_plants_720p.mp4 docs/result.jpg \
        --weights ../shared/models/rvm_mobilenetv3_tfjs.pth --background studio --frame 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.frames import Frame
from livebg.matting.factory import create_session
from livebg.sources.video_file import VideoFileSource
from livebg.tensors import to_tensor, to_uint8


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clip", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--background", default="studio")
    parser.add_argument("--frame", type=int, default=60, help="frame to show; earlier ones settle the state")
    parser.add_argument("--width", type=int, default=1280, help="width of the picture (both halves)")
    args = parser.parse_args()

    session = create_session(ModelConfig(weights=args.weights))
    compositor = Compositor(parse_background(args.background))
    with VideoFileSource(args.clip, with_audio=False) as source:
        for item in source:
            if not isinstance(item, Frame):
                continue
            src = to_tensor(item.rgb, session.device, session.dtype)
            result = compositor(src, session(src), item.time)
            if item.index == args.frame:
                break
    pair = np.hstack([item.rgb, to_uint8(result)])
    height = round(pair.shape[0] * args.width / pair.shape[1])
    pair = cv2.resize(pair, (args.width, height), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(args.output), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
