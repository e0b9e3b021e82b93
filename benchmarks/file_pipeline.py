"""Throughput of `livebg video` against a plain sequential loop, measured in one run.

The baseline is what RVM's own converter does: one thread, decode → eager PyTorch fp32 → composite →
encode. Both write the same H.264 settings from the same frames, and the script checks that their
outputs agree (mean and max abs difference of the decoded frames, in 1/255).

    python benchmarks/file_pipeline.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth \
        --clip ../shared/data/woman_indoor_plants_720p.mp4 --frames 60

On a GPU: ``--device cuda`` runs both loops there (the baseline in fp32, livebg in fp16) and
``--batch 4`` gives the model four frames at once.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from livebg.config import ModelConfig
from livebg.machine import cpu_summary
from livebg.matting.factory import load_rvm
from livebg.sinks.encoding import EncoderOptions
from livebg.tensors import to_tensor, to_uint8
from livebg.transcode import VideoJob, process_video

GREEN = torch.tensor([0, 177 / 255, 64 / 255]).view(1, 3, 1, 1)


def trim(clip: Path, frames: int, out: Path) -> Path:
    """The first ``frames`` frames of ``clip``, re-encoded nearly losslessly (a fair, short input)."""
    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        v = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=v.average_rate, options={"crf": "12", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = v.codec_context.width, v.codec_context.height, "yuv420p"
        for i, frame in enumerate(src.decode(v)):
            if i == frames:
                break
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


def sequential(clip: Path, out: Path, weights: Path, ratio: float, device: torch.device) -> float:
    """Decode → eager fp32 model → composite → encode, one frame at a time in one thread; returns fps."""
    model = load_rvm("rvm-mobilenetv3", weights).to(device)
    state = (None, None, None, None)
    green = GREEN.to(device)
    start = time.perf_counter()
    count = 0
    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        v = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=v.average_rate, options={"crf": "17", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = v.codec_context.width, v.codec_context.height, "yuv420p"
        with torch.inference_mode():
            for frame in src.decode(v):
                x = to_tensor(frame.to_ndarray(format="rgb24"), device)
                fgr, pha, state = model(x, state, ratio)
                image = to_uint8(fgr * pha + green * (1 - pha))
                out_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                out_frame.pts = frame.pts
                out_frame.time_base = frame.time_base
                for packet in stream.encode(out_frame):
                    dst.mux(packet)
                count += 1
        for packet in stream.encode(None):
            dst.mux(packet)
    return count / (time.perf_counter() - start)


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=Path("../shared/data/woman_indoor_plants_720p.mp4"))
    parser.add_argument("--weights", type=Path, default=Path("../shared/models/rvm_mobilenetv3_tfjs.pth"))
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--ratio", type=float, default=0.375)
    parser.add_argument("--backend", default="auto", help="backend of the livebg run (auto, torch, ...)")
    parser.add_argument("--precision", default="auto", help="precision of the livebg run (auto, bf16, ...)")
    parser.add_argument("--device", default="cpu", help="device of both runs (cpu, cuda, ...)")
    parser.add_argument("--batch", type=int, default=1, help="frames per model call in the livebg run")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = trim(args.clip, args.frames, tmp / "clip.mp4")
        print(
            f"clip: {args.clip.name}, first {args.frames} frames, ratio {args.ratio}, "
            f"{torch.get_num_threads()} threads"
        )
        device = torch.device(args.device)
        base_fps = sequential(clip, tmp / "sequential.mp4", args.weights, args.ratio, device)
        print(f"sequential eager loop : {base_fps:6.2f} fps")
        job = VideoJob(
            str(clip),
            tmp / "livebg.mp4",
            background="green",
            encoder=EncoderOptions(),
            model=ModelConfig(
                weights=args.weights,
                device=args.device,
                downsample_ratio=args.ratio,
                backend=args.backend,
                precision=args.precision,
            ),
            batch=args.batch,
        )
        start = time.perf_counter()
        result = process_video(job)
        ours = result.frames / (time.perf_counter() - start)
        print(
            f"livebg video          : {ours:6.2f} fps (backend {args.backend}, precision "
            f"{args.precision}, batch {args.batch}; model loading included)"
        )
        print(f"speed-up              : {ours / base_fps:6.2f}x")
        diff = np.abs(decoded(tmp / "sequential.mp4") - decoded(tmp / "livebg.mp4"))
        # Both outputs went through H.264 separately, so single pixels differ by the encoder's choices.
        print(
            f"output difference     : mean {diff.mean():.2f}/255, 99.9th percentile "
            f"{np.percentile(diff, 99.9):.0f}/255, max {diff.max()}/255"
        )


if __name__ == "__main__":
    main()
