"""livebg/serve/uploads.py: multipart bodies streamed to disk under a size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from livebg.serve.errors import BadForm, UploadTooLarge
from livebg.serve.storage import Storage
from livebg.serve.uploads import FORM_OVERHEAD, Form, check_declared_length, receive_form

BOUNDARY = "livebgtestboundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(parts: Iterable[tuple[str, str | None, bytes]], close: bool = True) -> bytes:
    """A multipart body of (field name, file name or None, content)."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def receive(
    tmp_path: Path, data: bytes, *, limit: int = 10_000, chunk: int = 7, content_type: str = CONTENT_TYPE
) -> tuple[Form, Storage, Path]:
    storage = Storage(10**9, parent=tmp_path)
    job_id, folder = storage.create()
    files = {"file": folder / "upload", "background_file": folder / "background-upload"}
    form = asyncio.run(
        receive_form(
            content_type, chunks(data, chunk), files=files, storage=storage, job_id=job_id, limit=limit
        )
    )
    return form, storage, folder


def test_files_go_to_their_server_paths_and_fields_to_memory(tmp_path: Path) -> None:
    picture = bytes(range(256)) * 20
    data = body([("background", None, b"blur:40"), ("file", "../../etc/photo.jpg", picture)])
    form, storage, folder = receive(tmp_path, data, chunk=13)
    assert form.fields == {"background": "blur:40"}
    upload = form.files["file"]
    assert upload.path == folder / "upload" and upload.path.read_bytes() == picture
    assert upload.size == len(picture) and upload.filename == "photo.jpg"
    assert sorted(p.name for p in folder.iterdir()) == ["upload"]
    assert storage.used_bytes == len(picture)
    assert [p.name for p in tmp_path.iterdir()] == [storage.root.name]  # nothing written elsewhere


def test_an_empty_file_input_counts_as_no_file(tmp_path: Path) -> None:
    form, _, folder = receive(tmp_path, body([("file", "", b""), ("output_type", None, b"alpha")]))
    assert form.files == {} and form.fields == {"output_type": "alpha"}
    assert list(folder.iterdir()) == []


def test_upload_over_the_limit_stops_at_the_limit(tmp_path: Path) -> None:
    storage = Storage(10**9, parent=tmp_path)
    job_id, folder = storage.create()
    data = body([("file", "big.jpg", b"x" * 5000)])
    with pytest.raises(UploadTooLarge, match=r"larger than this server's limit of 0 MB.*--max-upload"):
        asyncio.run(
            receive_form(
                CONTENT_TYPE,
                chunks(data, 100),
                files={"file": folder / "upload"},
                storage=storage,
                job_id=job_id,
                limit=1000,
            )
        )
    assert (folder / "upload").stat().st_size <= 1000
    assert storage.used_bytes <= 1000


def test_declared_length_is_checked_before_reading() -> None:
    check_declared_length(str(1000 + FORM_OVERHEAD), 1000)
    check_declared_length(None, 1000)
    with pytest.raises(UploadTooLarge):
        check_declared_length(str(1001 + FORM_OVERHEAD), 1000)


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"{}", "application/json", "is application/json, not a multipart/form-data form"),
        (body([("file", "a.jpg", b"1"), ("file", "b.jpg", b"2")]), CONTENT_TYPE, "'file' was sent twice"),
        (body([("background", None, b"x" * 5000)]), CONTENT_TYPE, "'background' is longer than 4096 bytes"),
        (body([("background", None, b"\xff\xfe")]), CONTENT_TYPE, "'background' is not UTF-8 text"),
        (body([("file", "a.jpg", b"123")], close=False), CONTENT_TYPE, "the upload was cut off"),
        (body([(f"f{i}", None, b"1") for i in range(40)]), CONTENT_TYPE, "more than 32 fields"),
    ],
)
def test_malformed_forms_are_refused_with_a_sentence(
    tmp_path: Path, data: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(BadForm, match=message):
        receive(tmp_path, data, content_type=content_type)
