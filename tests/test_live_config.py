"""What live mode refuses before the camera opens and the model loads, in one sentence each, without
importing torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livebg.errors import OutputError, UsageError
from livebg.live.config import LiveConfig, check_live_config
from livebg.sources.camera import CaptureSettings

REPO = Path(__file__).resolve().parent.parent


def test_a_record_folder_and_a_missing_snapshot_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^--record .* is a folder or has no file extension; name a video"):
        check_live_config(LiveConfig(record=tmp_path, overwrite=True))
    with pytest.raises(OutputError, match=r"^snapshot folder .*missing does not exist"):
        check_live_config(LiveConfig(snapshot_dir=tmp_path / "missing"))
    check_live_config(LiveConfig(record=tmp_path / "live.mp4", snapshot_dir=tmp_path))


def test_an_unknown_output_type_is_refused() -> None:
    refusal = r"^unknown output type 'matte'; use one of composite, alpha, foreground$"
    with pytest.raises(UsageError, match=refusal):
        check_live_config(LiveConfig(output_type="matte"))


def test_the_camera_file_is_never_the_recording(tmp_path: Path) -> None:
    clip = tmp_path / "talk.mp4"
    clip.write_bytes(b"my clip")
    config = LiveConfig(capture=CaptureSettings(camera=str(clip)), record=clip, overwrite=True)
    assert config.camera_file == clip
    with pytest.raises(OutputError, match="is the input file"):
        check_live_config(config)
    assert clip.read_bytes() == b"my clip"


@pytest.mark.parametrize(
    ("args", "refusal", "exit_code"),
    [
        (["--snapshot-dir", "missing"], "livebg: error: snapshot folder missing does not exist", 1),
        (["--record", "."], "livebg: error: --record . is a folder or has no file extension", 1),
        (["--cpu-budget", "0"], "livebg: error: --cpu-budget 0 is not accepted; give cores, above 0", 2),
        (["--cpu-budget", "-1"], "livebg: error: --cpu-budget -1 is not accepted; give cores, above 0", 2),
        (["--cpu-budget", "300%"], "livebg: error: --cpu-budget 300% is not accepted; give cores", 2),
        (["--cpu-budget", "abc"], "livebg: error: --cpu-budget abc is not accepted; give cores", 2),
    ],
)
def test_the_cli_refuses_at_once_without_importing_torch(
    tmp_path: Path, args: list[str], refusal: str, exit_code: int
) -> None:
    code = (
        "import sys\n"
        "from livebg.cli import main\n"
        "code = main(['webcam', '--no-window', *sys.argv[1:]])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == [str(exit_code), "False"], done.stderr
    assert done.stderr.startswith(refusal) and done.stderr.count("\n") == 1
