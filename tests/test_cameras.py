"""`livebg cameras`: V4L2 modes parsed from v4l2-ctl's output, and a listing that reads clearly."""

from __future__ import annotations

import pytest

from livebg.cameras import CameraDevice, CameraMode, format_cameras, parse_v4l2_formats

V4L2_OUTPUT = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.200s (5.000 fps)
"""


def test_v4l2_modes_are_parsed() -> None:
    assert parse_v4l2_formats(V4L2_OUTPUT) == (
        CameraMode("MJPG", 1280, 720, (30.0, 15.0)),
        CameraMode("MJPG", 640, 480, (30.0,)),
        CameraMode("YUYV", 640, 480, (30.0, 5.0)),
    )
    assert parse_v4l2_formats("ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n") == ()


def test_cameras_listing_reads_clearly() -> None:
    text = format_cameras([CameraDevice("/dev/video0", "Integrated Webcam", parse_v4l2_formats(V4L2_OUTPUT))])
    assert text.splitlines()[:2] == ["/dev/video0: Integrated Webcam", "    MJPG 1280x720 @ 30, 15 fps"]
    assert "no cameras found" in format_cameras([])


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        ([], ["no cameras found (none connected, or no permission to open them)"]),
        (
            [
                CameraDevice("/dev/video2", "USB Camera", ()),
                CameraDevice("/dev/video0", "Integrated Webcam", ()),
            ],
            [
                "/dev/video2: USB Camera",
                "    (modes unknown)",
                "/dev/video0: Integrated Webcam",
                "    (modes unknown)",
            ],
        ),
    ],
)
def test_cli_cameras_prints_the_listing_and_exits_zero(
    devices: list[CameraDevice],
    expected: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import livebg.cameras
    from livebg.cli import main

    probes: list[bool] = []

    def found(*, probe: bool = True) -> list[CameraDevice]:
        probes.append(probe)
        return devices

    monkeypatch.setattr(livebg.cameras, "list_cameras", found)
    assert main(["cameras", "--no-probe"]) == 0
    assert main(["cameras"]) == 0
    assert probes == [False, True]
    assert capsys.readouterr().out.splitlines() == expected * 2
