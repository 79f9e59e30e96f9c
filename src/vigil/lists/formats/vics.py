"""Project VIC / VICS OData JSON, versions 1.x (``odata.metadata``) and 2.0 (``@odata.context``).

Reads ``#Media`` hash sets and ``#Cases`` files (their ``Media`` arrays); tolerates a UTF-8 BOM,
string booleans and upper-case hex. MD5 is the key (as in the data model), or SHA1 where a
record has no MD5; PDQ travels in ``AlternativeHashes`` with ``HashName`` "PDQ"; PhotoDNA is
kept opaque. Writes 2.0 ``#Media``, each with Vigil's entry annotation as an OData instance
annotation, ``@vigil.entry`` (which OData readers skip when they do not know it): the entry's
key, its other signals and its metadata (:mod:`vigil.lists.formats.carry`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vigil.lists.formats.base import (
    ListFormat,
    WriteResult,
    formats,
    parse_bool,
    parse_category,
    signal_or_problem,
)
from vigil.lists.formats.carry import annotation, restore
from vigil.lists.model import Entry, Record, RowProblem

__all__ = ["VicsJson"]

ANNOTATION = "@vigil.entry"
CONTEXT_20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
# Media fields kept as they are in ``extra`` and written back on export.
PASSTHROUGH = (
    "MediaSize",
    "IsPrecategorized",
    "IsDistributed",
    "OffenderIdentified",
    "IsSuspected",
    "SelfGenerated",
    "MimeType",
    "RelativeFilePath",
    "DateUpdated",
    "PrecategorizationSource",
    "PhotoDNA",
)


def _media_items(doc: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
        raise ValueError("no top-level 'value' array")
    context = str(doc.get("@odata.context") or doc.get("odata.metadata") or "")
    values = doc["value"]
    holds_media = bool(values) and isinstance(values[0], dict) and "Media" in values[0]
    if context.endswith("#Cases") or holds_media:  # a case file, whatever its context says
        for c, case in enumerate(doc["value"]):
            for m, media in enumerate((case or {}).get("Media") or []):
                yield f"case {c} media {m}", media
    else:
        for m, media in enumerate(doc["value"]):
            yield f"media {m}", media


def _entry(media: Any, where: str, source: str) -> Entry | RowProblem:
    if not isinstance(media, dict):
        return RowProblem(where, "media item is not an object")
    sigs: list[tuple[str, str]] = []
    extra: dict[str, Any] = {k: media[k] for k in PASSTHROUGH if media.get(k) is not None}
    wanted = [("md5", media.get("MD5")), ("sha1", media.get("SHA1"))]
    for alt in media.get("AlternativeHashes") or []:
        name = str((alt or {}).get("HashName", "")).lower()
        if name == "pdq":
            wanted.append(("pdq", alt.get("HashValue")))
        elif name == "photodna":
            extra["PhotoDNA"] = alt.get("HashValue")
        elif name:
            extra.setdefault("AlternativeHashes", []).append(alt)
    if not media.get("MD5") and not media.get("SHA1"):
        return RowProblem(where, "neither MD5 nor SHA1 (an NSRL-derived set may key on SHA1)")
    for type_name, value in wanted:
        if value in (None, ""):
            continue
        got = signal_or_problem(type_name, str(value), where, source)
        if isinstance(got, RowProblem):
            return got
        sigs.append(got)
    if ANNOTATION in media:
        return restore(media[ANNOTATION], sigs, where, source)
    try:
        category = parse_category(media.get("Category"))
        victim = parse_bool(media.get("VictimIdentified"))
    except ValueError as exc:
        return RowProblem(where, str(exc))
    tags = media.get("Tags")
    return Entry(
        key=f"{sigs[0][0]}:{sigs[0][1]}",  # MD5, the VICS key, or SHA1 where it is all
        signals=sigs,
        category=category,
        series=media.get("Series"),
        victim_identified=victim,
        source="vics",
        tags=[t.strip() for t in str(tags).split(",") if t.strip()] if tags else [],
        comments=media.get("Comments"),
        extra=extra,
    )


def _media_of(entry: Entry, media_id: int) -> dict[str, Any] | None:
    md5, sha1 = entry.signal("md5"), entry.signal("sha1")
    if md5 is None and sha1 is None:
        return None
    out: dict[str, Any] = {"MediaID": media_id, "IsPrecategorized": False}
    if md5 is not None:
        out["MD5"] = md5.upper()
    if sha1 is not None:
        out["SHA1"] = sha1.upper()
    if entry.category is not None:
        out["Category"] = entry.category
    for field, value in (
        ("Series", entry.series),
        ("VictimIdentified", entry.victim_identified),
        ("Comments", entry.comments),
    ):
        if value is not None:
            out[field] = value
    if entry.tags:
        out["Tags"] = ",".join(entry.tags)
    out.update({k: v for k, v in entry.extra.items() if k in PASSTHROUGH and k != "PhotoDNA"})
    pdqs = [("pdq", v) for t, v in entry.signals if t == "pdq"]
    alts = [{"HashName": "PDQ", "HashValue": v} for _, v in pdqs]
    if "PhotoDNA" in entry.extra:
        alts.append({"HashName": "PhotoDNA", "HashValue": entry.extra["PhotoDNA"]})
    for alt in alts:
        alt.update({"MD5": md5.upper()} if md5 else {})
    if alts:
        out["AlternativeHashes"] = alts
    carried = [*([("md5", md5)] if md5 else []), *([("sha1", sha1)] if sha1 else []), *pdqs]
    out[ANNOTATION] = annotation(entry, carried)
    return out


@formats.register
class VicsJson(ListFormat):
    name = "vics"
    description = "Project VIC / VICS OData JSON 1.x and 2.0 (#Media, #Cases); writes 2.0"
    carries = ("md5", "sha1", "pdq")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        try:
            doc = json.loads(_text(stream.read()))
            items = list(_media_items(doc))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            yield RowProblem("file", f"not VICS JSON: {_first(exc)}")
            return
        for where, media in items:
            yield _entry(media, where, source)

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        result = WriteResult()
        out.write(b'{"@odata.context":' + json.dumps(CONTEXT_20).encode() + b',"value":[')
        for entry in entries:
            media = _media_of(entry, result.written + 1)
            if media is None:
                result.skipped.append((entry.key, "VICS needs an MD5 or a SHA1"))
                continue
            out.write((b",\n" if result.written else b"\n") + json.dumps(media).encode())
            result.written += 1
        out.write(b"\n]}\n")
        return result

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        text = _text(head[: len(head) // 2 * 2], errors="ignore")
        return "odata.metadata" in text or "@odata.context" in text

    @classmethod
    def example(cls) -> bytes:
        doc = {
            "@odata.context": CONTEXT_20,
            "value": [
                {
                    "MediaID": 1,
                    "Category": 0,
                    "MD5": "D41D8CD98F00B204E9800998ECF8427E",
                    "SHA1": "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
                    "MediaSize": 0,
                    "IsPrecategorized": "false",
                    "VictimIdentified": "true",
                    "Series": "benign-demo",
                },
                {
                    "MediaID": 2,
                    "Category": 1,
                    "MD5": "900150983CD24FB0D6963F7D28E17F72",
                    "IsPrecategorized": True,
                    "Tags": "kodak,sample",
                    "AlternativeHashes": [
                        {
                            "MD5": "900150983CD24FB0D6963F7D28E17F72",
                            "HashName": "PDQ",
                            "HashValue": "9c73e3980abdbd7ac3e17c1c81d8f2a50998f70e9ae109"
                            "98766788f9760e16e4",
                        }
                    ],
                },
            ],
        }
        return b"\xef\xbb\xbf" + json.dumps(doc, indent=1).encode()


def _first(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)[:300]


def _text(raw: bytes, errors: str = "strict") -> str:
    """UTF-8 (with or without its BOM), or UTF-16 with its BOM (older Clees4All output)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors)
    return raw.decode("utf-8-sig", errors)
