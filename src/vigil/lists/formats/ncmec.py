"""NCMEC hash-sharing ``queryResult`` XML (as the v2 API returns it and python-threatexchange
reads it): ``<images>`` / ``<videos>`` holding ``<image>``/``<video>`` entries and
``<deletedImage>``/``<deletedVideo>`` tombstones, each with ``member@id``, ``id``, ``timestamp``,
``classification`` and ``fingerprints`` (``md5``, ``sha1``, ``pdq``, ``pdna``, ...).

Read as a stream (``iterparse``), so the file is never held whole in memory. Vigil writes each
entry's other signals and metadata in a ``<vigilEntry>`` child (JSON), which pytx's reader
skips (:mod:`vigil.lists.formats.carry`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from vigil.lists.formats.base import ListFormat, WriteResult, formats, signal_or_problem
from vigil.lists.formats.carry import annotation_json, restore
from vigil.lists.model import Entry, Record, Removal, RowProblem
from vigil.signals.pdq import EXAMPLE_PDQ

__all__ = ["ENTRY_TAGS", "NcmecXml", "entry_record", "local_name"]

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
STAMP = "%Y-%m-%dT%H:%M:%SZ"  # the API's timestamps
ENTRY_TAGS = {"image", "video", "deletedImage", "deletedVideo"}
FINGERPRINTS = {"md5": "md5", "sha1": "sha1", "pdq": "pdq"}


def local_name(tag: str) -> str:
    """A tag without its namespace (remembered: a page of 1,000 entries has 20,000 tags, of a
    dozen names)."""
    try:
        return _LOCAL[tag]
    except KeyError:
        name = tag.rpartition("}")[2]
        if len(_LOCAL) < 1024:  # a hostile file's endless new tags are not all kept
            _LOCAL[tag] = name
        return name


_LOCAL: dict[str, str] = {}


def entry_record(elem: ET.Element, where: str, source: str) -> tuple[int, Record]:
    """An ``<image>``/``<video>``/``<deleted...>`` element's record and its time (epoch
    seconds; 0 when it has none), by which records for one key are ordered."""
    kids = _children(elem)
    node = kids.get("timestamp")
    stamp = 0
    if node is not None and node.text:
        with contextlib.suppress(ValueError):  # ISO 8601 with Z (strptime is 10x slower)
            when = datetime.fromisoformat(node.text.strip())
            stamp = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    return stamp, _entry(elem, where, source, kids)


def _children(elem: ET.Element) -> dict[str, ET.Element]:
    """An element's children by local name (the first of each)."""
    kids: dict[str, ET.Element] = {}
    for c in elem:
        kids.setdefault(local_name(c.tag), c)
    return kids


def _entry(elem: ET.Element, where: str, source: str,
           kids: dict[str, ET.Element] | None = None) -> Record:  # fmt: skip
    tag = local_name(elem.tag)
    kids = _children(elem) if kids is None else kids
    member, ident = kids.get("member"), kids.get("id")
    if member is None or ident is None or not (ident.text or "").strip():
        return RowProblem(where, f"<{tag}> lacks <member> or <id>")
    key = f"ncmec:{member.get('id', '')}:{ident.text.strip() if ident.text else ''}"
    if tag.startswith("deleted"):
        return Removal(key, "NCMEC tombstone")
    sigs: list[tuple[str, str]] = []
    extra: dict[str, Any] = {"media_type": tag, "member": (member.text or "").strip()}
    for fp in kids.get("fingerprints", ()):
        name, value = local_name(fp.tag), (fp.text or "").strip()
        if not value:
            continue
        if name in FINGERPRINTS:
            got = signal_or_problem(FINGERPRINTS[name], value, where, source)
            if isinstance(got, RowProblem):
                return got
            sigs.append(got)
        else:
            extra.setdefault("fingerprints", {})[name] = value
    note = kids.get("vigilEntry")
    if note is not None:
        return restore(note.text or "", sigs, where, source)
    if not sigs:
        return RowProblem(where, "entry has no md5, sha1 or pdq fingerprint")
    for name in ("classification", "timestamp"):
        node = kids.get(name)
        if node is not None and node.text:
            extra[name] = node.text.strip()
    return Entry(key=key, signals=sigs, source="ncmec", extra=extra)


@formats.register
class NcmecXml(ListFormat):
    name = "ncmec"
    description = "NCMEC hash-sharing queryResult XML (images, videos, deleted tombstones)"
    carries = ("md5", "sha1", "pdq")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        count = 0
        try:
            for _event, elem in ET.iterparse(stream, events=("end",)):
                if local_name(elem.tag) in ENTRY_TAGS:
                    yield _entry(elem, f"entry {count}", source)
                    count += 1
                    elem.clear()
        except ET.ParseError as exc:
            yield RowProblem(f"entry {count}", f"XML stops being well-formed: {exc}")

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        """``<images count maxTimestamp>`` and ``<videos …>`` as the API sends them (pytx's
        reader needs both attributes); each part is spooled first, since its count comes
        before its entries."""
        result = WriteResult()
        parts = {tag: _Part() for tag in ("image", "video")}
        for e in entries:
            tag = "video" if e.extra.get("media_type") == "video" else "image"
            body = cls._entry_xml(e, tag)
            if body is None:
                result.skipped.append((e.key, "key is not an NCMEC member:id key"))
                continue
            parts[tag].add(body, str(e.extra.get("timestamp", "")))
            result.written += 1
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<queryResult xmlns="{NS}">\n'.encode())
        for tag, part in parts.items():
            part.copy_to(out, f"{tag}s")
        out.write(b"</queryResult>\n")
        return result

    @staticmethod
    def _entry_xml(e: Entry, tag: str) -> bytes | None:
        parts = e.key.split(":")
        if len(parts) != 3 or parts[0] != "ncmec":
            return None
        carried = [(t, v) for t, v in e.signals if t in FINGERPRINTS]
        fps = "".join(f"<{t}>{v}</{t}>" for t, v in carried)
        fps += "".join(
            f"<{k}>{escape(str(v))}</{k}>" for k, v in e.extra.get("fingerprints", {}).items()
        )
        fields = "".join(
            f"<{n}>{escape(str(e.extra[n]))}</{n}>"
            for n in ("timestamp", "classification")
            if n in e.extra
        )
        member = escape(str(e.extra.get("member", "")))
        return (
            f"<{tag}><member id={quoteattr(parts[1])}>{member}</member>{fields}"
            f"<id>{escape(parts[2])}</id><fingerprints>{fps}</fingerprints>"
            f"<vigilEntry>{escape(annotation_json(e, carried))}</vigilEntry></{tag}>\n"
        ).encode()

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return b"<queryResult" in head

    @classmethod
    def example(cls) -> bytes:
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="{NS}">
 <images count="2" maxTimestamp="2024-01-01T00:00:00Z">
  <image><member id="42">Example ESP</member><timestamp>2024-01-01T00:00:00Z</timestamp>
   <id>1001</id><classification>A1</classification>
   <fingerprints><md5>900150983cd24fb0d6963f7d28e17f72</md5>
    <pdq>{EXAMPLE_PDQ[0]}</pdq></fingerprints>
  </image>
  <deletedImage><member id="42">Example ESP</member><id>1000</id></deletedImage>
 </images>
 <videos count="1" maxTimestamp="2024-01-01T00:00:00Z">
  <video><member id="7">Other ESP</member><id>55</id>
   <fingerprints><md5>d41d8cd98f00b204e9800998ecf8427e</md5></fingerprints></video>
 </videos>
</queryResult>
""".encode()


class _Part:
    """The entries of one ``<images>`` or ``<videos>`` element, spooled (a list file, not
    content: over 32 MiB it goes to a temporary file), with their count and latest time."""

    def __init__(self) -> None:
        self.body = tempfile.SpooledTemporaryFile(max_size=32 * 2**20)  # noqa: SIM115 (closed by copy_to)
        self.count = 0
        self.latest: datetime | None = None

    def add(self, xml: bytes, stamp: str) -> None:
        self.body.write(xml)
        self.count += 1
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            self.latest = when if self.latest is None else max(self.latest, when)

    def copy_to(self, out: IO[bytes], element: str) -> None:
        latest = (self.latest or datetime.now(UTC)).astimezone(UTC).strftime(STAMP)
        out.write(f'<{element} count="{self.count}" maxTimestamp="{latest}">\n'.encode())
        self.body.seek(0)
        shutil.copyfileobj(self.body, out)
        self.body.close()
        out.write(f"</{element}>\n".encode())
