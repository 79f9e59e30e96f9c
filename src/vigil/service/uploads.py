"""Uploads, read as they stream in and held in memory only: the size limit is enforced while
reading (with or without a Content-Length), and nothing is spooled to disk. Starlette's own
form parser spools a file part over 1 MiB to a temporary file in plaintext, and applies no
limit until the whole body is in; this reader stops at the limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from vigil.errors import MediaTooLarge, UsageError

__all__ = ["Upload", "read_upload", "read_uploads"]

OVERHEAD = 64 * 1024  # bytes of multipart framing and small fields allowed beyond the limit


@dataclass
class Upload:
    """One uploaded file: its form field (``file`` for a raw body), file name and bytes."""

    part: str
    name: str
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)  # small text fields beside it


@dataclass
class _Parts:
    names: tuple[str, ...]
    limit: int
    most: int = 1  # files in one body
    field_limit: int = 4096  # bytes of one text field
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header: bytes = b""
    current: tuple[str, str, bool] | None = None  # field name, file name, is a file
    buffer: bytearray = field(default_factory=bytearray)
    files: list[Upload] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def parser(self, boundary: bytes) -> MultipartParser:
        callbacks = {
            "on_part_begin": self._begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def _begin(self) -> None:
        self.headers, self.current, self.buffer = {}, None, bytearray()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.header = data[start:end].lower()

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.headers[self.header] = self.headers.get(self.header, b"") + data[start:end]

    def _headers_done(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.current = (name, filename.decode("utf-8", "replace") if filename else name,
                        filename is not None)  # fmt: skip

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            return
        name, _, is_file = self.current
        cap = self.limit if is_file and name in self.names else self.field_limit
        if len(self.buffer) + end - start > cap:
            raise MediaTooLarge(name or "upload", f"over the upload limit of {cap:,} bytes")
        self.buffer += data[start:end]

    def _end(self) -> None:
        if self.current is None:
            return
        name, filename, is_file = self.current
        if is_file and name in self.names:
            if len(self.files) >= self.most:
                raise UsageError("one file per upload" if self.most == 1 else
                                 f"at most {self.most} files in one body")  # fmt: skip
            self.files.append(Upload(name, filename or "upload", bytes(self.buffer)))
        elif not is_file and len(self.fields) < 16:
            self.fields[name] = self.buffer.decode("utf-8", "replace")


async def read_upload(request: Request, limit: int, names: tuple[str, ...] = ("file",)) -> Upload:
    """The uploaded file: a multipart field named one of ``names``, or the raw body, at most
    ``limit`` bytes (:class:`MediaTooLarge` as soon as more arrive)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + OVERHEAD:
        raise MediaTooLarge("upload", f"{int(declared):,} bytes is over the limit of {limit:,}")
    ctype, _ = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data":
        return Upload("file", "upload", await _body(request, limit))
    parts = await _parse(request, _Parts(names, limit), limit)
    if not parts.files:
        wanted = " or ".join(repr(n) for n in names)
        raise UsageError(f"a multipart upload needs a file field named {wanted}")
    upload = parts.files[0]
    upload.fields = parts.fields
    return upload


async def read_uploads(request: Request, limit: int, total: int, most: int,
                       field_limit: int) -> tuple[list[Upload], dict[str, str]]:  # fmt: skip
    """The files (fields named ``file``, each at most ``limit`` bytes, at most ``most`` of
    them, ``total`` bytes in all) and the text fields (each at most ``field_limit`` bytes) of
    a multipart body."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > total + OVERHEAD:
        raise MediaTooLarge("upload", f"{int(declared):,} bytes is over the limit of {total:,}")
    parts = await _parse(request, _Parts(("file",), limit, most, field_limit), total)
    return parts.files, parts.fields


async def _parse(request: Request, parts: _Parts, total: int) -> _Parts:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise UsageError("a multipart upload needs a boundary in its Content-Type")
    parser, size = parts.parser(boundary), 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > total + OVERHEAD:
                raise MediaTooLarge("upload", f"over the upload limit of {total:,} bytes")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise UsageError(f"the multipart body is malformed: {str(exc)[:200]}") from None
    return parts


async def _body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MediaTooLarge("upload", f"over the upload limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
