"""Time to the first live picture, cold and warm, and where it goes.

Runs what a user runs, ``livebg webcam --camera CLIP --no-window`` (the clip stands in for the camera),
and measures from launching the process to livebg's ``first picture`` log line. The first run uses an
empty cache folder (``LIVEBG_CACHE_DIR``), so the model's graph is exported as on the very first run
ever; the next runs reuse it (warm). For each run it prints the wall time and livebg's own phases
(camera, outputs, model, compile, window, first frame); what is left is the interpreter and imports,
measured alone by ``python -m livebg --version``-like import of the CLI and of the model stack.

    python benchmarks/live_startup.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livebg.machine import cpu_summary

HERE = Path(__file__).resolve().parent
DEFAULT_CLIP = HERE.parent.parent / "shared" / "data" / "woman_indoor_plants_720p.mp4"
IMPORTS = {
    "python + livebg CLI": "import livebg.cli",
    "+ torch": "import livebg.cli, torch",
    "+ model stack": "import livebg.cli, livebg.live.loop, livebg.matting.factory",
}


def time_command(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def first_picture(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds from launch to the ``first picture`` line, and that line."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.startswith("first picture"):
                return time.perf_counter() - began, line.strip()
        raise RuntimeError(f"livebg exited with {process.wait()} before its first picture")
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="video played as the camera")
    parser.add_argument("--weights", type=Path, help="RVM checkpoint (default: the cached one)")
    parser.add_argument("--warm-runs", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more `livebg webcam` options, after --")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "LIVEBG_CACHE_DIR": cache}
        for what, code in IMPORTS.items():
            seconds = min(time_command([sys.executable, "-c", code], env) for _ in range(3))
            print(f"{what:<22} {seconds:5.2f} s (best of 3)", flush=True)
        command = [sys.executable, "-m", "livebg", "webcam", "--camera", str(args.clip), "--no-window"]
        command += ["-b", "#00b140", *args.extra]
        if args.weights:
            command += ["--weights", str(args.weights)]
        for run in range(1 + args.warm_runs):
            seconds, line = first_picture(command, env)
            phases = re.sub(r"^first picture [\d.]+ s after live mode started ", "", line)
            label = "cold (empty cache)" if run == 0 else f"warm #{run}"
            print(f"{label:<22} {seconds:5.2f} s to the first picture; livebg's phases {phases}", flush=True)


if __name__ == "__main__":
    main()
