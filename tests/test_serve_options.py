"""livebg/serve/options.py: form fields to job options; no client string becomes a server path."""

from __future__ import annotations

from pathlib import Path

import pytest

from livebg.errors import BackgroundError
from livebg.serve.errors import BadForm
from livebg.serve.options import JOB_FIELDS, REMOVE_FIELDS, JobOptions, check_background, parse_options


def parse(fields: dict[str, str], **kwargs: object) -> JobOptions:
    return parse_options(fields, JOB_FIELDS, model="rvm-mobilenetv3", **kwargs)  # type: ignore[arg-type]


def test_defaults_are_the_clis() -> None:
    assert parse({}) == JobOptions(
        background="green", output_type="composite", format=None, audio=True, crf=None, preset="medium"
    )
    options = parse(
        {
            "background": "studio",
            "output_type": "alpha",
            "format": ".JPEG",
            "no_audio": "true",
            "crf": "20",
            "preset": "fast",
            "model": "rvm-mobilenetv3",
        }
    )
    assert options == JobOptions("studio", "alpha", "jpg", False, 20, "fast")


@pytest.mark.parametrize(
    "spec", ["green", "#00b140", "0,177,64", "blur", "blur:40", "transparent", "none", "Studio"]
)
def test_backgrounds_that_name_no_server_file_are_accepted(spec: str) -> None:
    check_background(spec)


def test_paths_are_never_accepted_as_backgrounds(tmp_path: Path) -> None:
    existing = tmp_path / "secret.jpg"
    existing.write_bytes(b"not for clients")
    for spec in (str(existing), "/etc/passwd", "../backgrounds/studio.jpg", "~/.ssh/id_rsa", "studio.jpg"):
        with pytest.raises(BackgroundError, match=r"unknown background .* or upload a picture or clip"):
            check_background(spec)
    with pytest.raises(BackgroundError, match="blur strength '0'"):
        check_background("blur:0")


def test_remove_defaults_to_transparent_and_refuses_clip_fields() -> None:
    options = parse_options({}, REMOVE_FIELDS, model="m", default_background="transparent")
    assert options.transparent and options.suffix("image") == ".png"
    with pytest.raises(
        BadForm, match=r"unknown field 'crf'; this endpoint takes the fields file, background_file"
    ):
        parse_options({"crf": "1"}, REMOVE_FIELDS, model="m")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weights": "/tmp/x.pth"}, "unknown field 'weights'"),
        (
            {"model": "rvm-resnet50"},
            "this server runs rvm-mobilenetv3, not 'rvm-resnet50'.*--model rvm-resnet50",
        ),
        ({"output_type": "matte"}, "output_type 'matte' is not one of composite, alpha, foreground"),
        ({"crf": "sixty"}, "crf 'sixty' is not a whole number from 0 to 63"),
        ({"preset": "warp"}, "preset 'warp' is not one of"),
        ({"no_audio": "maybe"}, "no_audio 'maybe' is not true or false"),
    ],
)
def test_bad_fields_get_one_sentence(fields: dict[str, str], message: str) -> None:
    with pytest.raises(BadForm, match=message):
        parse(fields)


def test_an_uploaded_background_replaces_the_spec() -> None:
    assert parse({}, background_file=True).background == "green"
    with pytest.raises(BadForm, match="either background or background_file"):
        parse({"background": "studio"}, background_file=True)


def test_result_formats_follow_the_kind_and_transparency() -> None:
    assert parse({}).suffix("image") == ".png"
    assert parse({}).suffix("clip") == ".mp4"
    assert parse({"background": "transparent"}).suffix("clip") == ".mov"
    assert parse({"background": "transparent", "format": "webm"}).suffix("clip") == ".webm"
    assert parse({"output_type": "alpha", "background": "transparent"}).suffix("image") == ".png"
    with pytest.raises(BadForm, match="a transparent clip cannot be stored as mp4; use webm, mov"):
        parse({"background": "transparent", "format": "mp4"}).suffix("clip")
    with pytest.raises(BadForm, match="a transparent picture cannot be stored as jpg; use png, webp"):
        parse({"background": "transparent", "format": "jpg"}).suffix("image")
    with pytest.raises(BadForm, match="format 'mp4' is not one for a picture; use png, webp, jpg"):
        parse({"format": "mp4"}).suffix("image")
