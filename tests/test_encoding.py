"""Encoder options: the defaults per container, and every value an encoder would refuse or silently
ignore reported in one sentence, before any work (and, from the command line, before torch loads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from livebg.errors import UsageError
from livebg.sinks.encoding import EncoderOptions, usable_encoders


def test_defaults_per_container() -> None:
    mp4 = EncoderOptions().plan("out.mp4")
    assert (mp4.codec, mp4.pixel_format, mp4.options) == (
        "libx264",
        "yuv420p",
        {"preset": "medium", "crf": "17"},
    )
    assert EncoderOptions().plan("out.mkv", size=(63, 96)).pixel_format == "yuv444p"  # odd size kept exact
    webm = EncoderOptions().plan("out.webm", alpha=True)
    assert (webm.codec, webm.pixel_format, webm.options["crf"]) == ("libvpx-vp9", "yuva420p", "18")
    mov = EncoderOptions().plan("out.mov", alpha=True)
    assert (mov.codec, mov.pixel_format, mov.options) == ("prores_ks", "yuva444p10le", {"profile": "4"})


def test_chosen_values_reach_the_encoder() -> None:
    plan = EncoderOptions(codec="h264", crf=0, preset="veryfast", pixel_format="yuv444p").plan("o.mp4")
    assert (plan.codec, plan.pixel_format) == ("libx264", "yuv444p")  # h264 is libx264 here
    assert plan.options == {"preset": "veryfast", "crf": "0"}
    assert EncoderOptions(codec="libvpx-vp9", crf=63).plan("o.webm").options["crf"] == "63"
    prores = EncoderOptions(codec="prores_ks", crf=20).plan("o.mov")
    assert "crf" not in prores.options and prores.notes == (
        "prores_ks has no constant-quality setting: --crf 20 is not used",
    )
    # An encoder that takes none of the usual pixel formats gets one it takes.
    assert EncoderOptions(codec="libx264rgb").plan("o.mkv").pixel_format in ("bgr0", "bgr24", "rgb24")


@pytest.mark.parametrize(
    ("options", "output", "message"),
    [
        (EncoderOptions(crf=-5), "o.mp4", r"--crf -5 is outside libx264's range 0-51"),
        (EncoderOptions(crf=100), "o.mp4", r"--crf 100 is outside libx264's range 0-51"),
        (EncoderOptions(crf=64), "o.webm", r"--crf 64 is outside libvpx-vp9's range 0-63"),
        (EncoderOptions(pixel_format="nonsense"), "o.mp4", r"--pix-fmt nonsense is not a pixel format"),
        (
            EncoderOptions(pixel_format="rgb24"),
            "o.mp4",
            r"--pix-fmt rgb24 is not accepted by libx264, which takes yuv420p.*; yuv444p keeps full colour",
        ),
        (
            EncoderOptions(preset="superduper"),
            "o.mp4",
            r"--preset superduper is not a speed preset; give one",
        ),
        (
            EncoderOptions(codec="aac"),
            "o.mp4",
            r"--codec aac is an audio encoder, not a video one; .*libx264",
        ),
        (
            EncoderOptions(codec="foo264"),
            "o.mp4",
            r"--codec foo264 is not an encoder this FFmpeg has; .*libx264",
        ),
        (EncoderOptions(codec="prores_ks"), "o.mp4", r"--codec prores_ks cannot be stored in \.mp4 files"),
        (EncoderOptions(), "o.xyz", r"unknown extension \.xyz; use one of \.mp4"),
    ],
)
def test_values_an_encoder_would_refuse_are_one_sentence(
    options: EncoderOptions, output: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        options.check(output)
    assert "\n" not in str(caught.value)


def test_transparency_needs_a_container_and_a_pixel_format_with_alpha() -> None:
    with pytest.raises(UsageError, match=r"transparent output cannot be stored in \.mp4"):
        EncoderOptions().check("o.mp4", alpha=True)
    with pytest.raises(UsageError, match="yuv420p has no alpha channel"):
        EncoderOptions(pixel_format="yuv420p").check("o.webm", alpha=True)
    EncoderOptions(pixel_format="yuva420p").check("o.webm", alpha=True)


def test_usable_encoders_fit_the_container() -> None:
    assert "libx264" in usable_encoders(".mp4") and "prores_ks" not in usable_encoders(".mp4")
    assert usable_encoders(".webm")[0] == "libvpx-vp9"


_BAD_OPTIONS = [
    ["--crf", "-5"],
    ["--crf", "100"],
    ["--pix-fmt", "nonsense"],
    ["--pix-fmt", "rgb24"],
    ["--preset", "superduper"],
    ["--codec", "aac"],
    ["--codec", "foo264"],
]


def test_the_command_line_refuses_them_before_torch_loads(tmp_path: Path) -> None:
    """One process runs every case through ``main()``: exit 2, one sentence, torch never imported."""
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"not read: the options are refused first")
    out = tmp_path / "out.mp4"
    cases = [["video", str(clip), "-o", str(out), *bad] for bad in _BAD_OPTIONS]
    cases.append(["webcam", "--camera", str(clip), "--no-window", "--record", str(tmp_path / "rec.xyz")])
    code = (
        "import contextlib, io, json, sys\n"
        "from livebg.cli import main\n"
        "results = []\n"
        f"for args in {cases!r}:\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(args)\n"
        "    results.append([code, err.getvalue()])\n"
        "print(json.dumps({'results': results, 'torch': 'torch' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["torch"] is False
    for args, (code, stderr) in zip(cases, report["results"], strict=True):
        lines = stderr.splitlines()
        assert code == 2, (args, stderr)
        assert len(lines) == 1 and lines[0].startswith("livebg: error: "), (args, stderr)
        assert "Traceback" not in stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
