"""Receiving a ``multipart/form-data`` body: files streamed straight to disk under a size limit, text
fields kept (small) in memory.

Starlette's own form parser spools files to the system's temporary folder and learns their size only
at the end; here every chunk is counted (against the request's limit and the server's disk cap) before
it is written, so an oversized upload stops at the limit and a large one never sits in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from livebg.serve.config import MB
from livebg.serve.errors import BadForm, UploadTooLarge
from livebg.serve.storage import Storage

MAX_FIELDS = 32
MAX_FIELD_BYTES = 4096
MAX_HEADER_BYTES = 8192
# Room for the form's boundaries, part headers and text fields on top of the files themselves.
FORM_OVERHEAD = MAX_FIELDS * (MAX_FIELD_BYTES + MAX_HEADER_BYTES)


@dataclass(frozen=True)
class UploadedFile:
    """A file part written to ``path``. ``filename`` is what the client called it, for display and for
    naming the download only; it never becomes part of a path."""

    path: Path
    size: int
    filename: str


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def too_large_message(limit: int) -> str:
    return (
        f"the upload is larger than this server's limit of {limit / MB:.0f} MB; send a smaller or "
        "shorter file, or start the server with a larger --max-upload"
    )


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse a body whose declared length is over the limit before reading any of it."""
    if content_length and content_length.isdigit() and int(content_length) > limit + FORM_OVERHEAD:
        raise UploadTooLarge(too_large_message(limit))


async def receive_form(
    content_type: str,
    body: AsyncIterator[bytes],
    *,
    files: Mapping[str, Path],
    storage: Storage,
    job_id: str,
    limit: int,
) -> Form:
    """Parse a multipart body. ``files`` maps the accepted file fields to the paths they are written to
    (server-made); any other field is text. Raises :class:`UploadTooLarge` once the files pass ``limit``
    bytes, :class:`~livebg.serve.errors.StorageFull` at the disk cap, :class:`BadForm` for anything
    that is not such a form. Files already written stay for the caller to remove."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadForm(
            f"the request is {kind.decode('latin-1') or 'not a form'}, not a multipart/form-data form; "
            "send the file in a form field named 'file' (e.g. curl -F file=@photo.jpg)"
        )
    receiver = _Receiver(files, storage, job_id, limit)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in body:
            receiver.received += len(chunk)
            if receiver.received > limit + FORM_OVERHEAD:
                raise UploadTooLarge(too_large_message(limit))
            parser.write(chunk)
        parser.finalize()
    finally:
        receiver.close()
    if not receiver.ended:
        raise BadForm("the form ended before its closing boundary; the upload was cut off, send it again")
    return receiver.form


class _Receiver:
    """The parser's callbacks: one part at a time, files to disk, fields to memory."""

    def __init__(self, files: Mapping[str, Path], storage: Storage, job_id: str, limit: int) -> None:
        self.paths = files
        self.storage = storage
        self.job_id = job_id
        self.limit = limit
        self.form = Form()
        self.received = 0
        self.file_bytes = 0
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._header_bytes = 0
        self._name = ""
        self._filename = ""
        self._out: BinaryIO | None = None
        self._size = 0
        self._text = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._size = 0
        self._text = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]
        self._count_header(end - start)

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._count_header(end - start)

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            raise BadForm(
                f"a form part's headers are longer than {MAX_HEADER_BYTES} bytes; send a plain form"
            )

    def header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        self._name = _text(options.get(b"name", b""))
        self._filename = _text(options.get(b"filename", b""))
        if not self._name:
            raise BadForm("a form part has no field name; name each field, e.g. -F file=@photo.jpg")
        if self._name in self.form.files or self._name in self.form.fields:
            raise BadForm(f"the field {self._name!r} was sent twice; send each field once")
        path = self.paths.get(self._name)
        if path is not None:
            self._out = path.open("wb")
        elif len(self.form.fields) >= MAX_FIELDS:
            raise BadForm(f"the form has more than {MAX_FIELDS} fields; send only the options you need")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]  # no copy of the (up to 256 KB) chunk
        if self._out is None:
            self._text += chunk
            if len(self._text) > MAX_FIELD_BYTES:
                raise BadForm(f"the field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes")
            return
        self.file_bytes += len(chunk)
        if self.file_bytes > self.limit:
            raise UploadTooLarge(too_large_message(self.limit))
        self.storage.charge(self.job_id, len(chunk))
        self._out.write(chunk)
        self._size += len(chunk)

    def part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
            path = self.paths[self._name]
            if self._size == 0 and not self._filename:
                path.unlink()  # an empty file input of a browser form: nothing was chosen
            else:
                self.form.files[self._name] = UploadedFile(path, self._size, _display_name(self._filename))
            return
        try:
            self.form.fields[self._name] = self._text.decode("utf-8")
        except UnicodeDecodeError:
            raise BadForm(f"the field {self._name!r} is not UTF-8 text") from None

    def end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _text(value: bytes) -> str:
    """A header parameter: browsers send UTF-8 bytes, which the parser hands over as latin-1."""
    return value.decode("latin-1").encode("latin-1").decode("utf-8", errors="replace")


def _display_name(filename: str) -> str:
    """The last component of a client's file name (either kind of slash), for display only."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]
