"""XMP packets: IPTC digital source type (attribute or element), creator tool, edit history,
camera fields. Parsed with ``defusedxml`` (no entities, no DTDs), at most 4 MiB a packet."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import MAX_XMP_BYTES, FileView
from vigil.evidence.sourcetype import claim_for

__all__ = ["XMP"]

IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
EVT = "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
TIFF = "http://ns.adobe.com/tiff/1.0/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# (namespace, name) -> (claim, label)
_FIELDS = {
    (XMP_NS, "CreatorTool"): ("software", "xmp:CreatorTool"),
    (EVT, "softwareAgent"): ("software", "xmpMM:History stEvt:softwareAgent"),
    (TIFF, "Software"): ("software", "tiff:Software"),
    (TIFF, "Make"): ("device", "tiff:Make"),
    (TIFF, "Model"): ("device", "tiff:Model"),
    (PHOTOSHOP, "DateCreated"): ("capture_time", "photoshop:DateCreated"),
}


def _values(root: Element) -> Iterator[tuple[str, str, str]]:
    """(namespace, local name, value) of every attribute and leaf element in the packet."""
    for el in root.iter():
        for attr, val in el.attrib.items():
            if attr.startswith("{"):
                ns, _, local = attr[1:].partition("}")
                if ns != RDF:
                    yield ns, local, val
        if el.tag.startswith("{"):
            ns, _, local = el.tag[1:].partition("}")
            resource = el.attrib.get(f"{{{RDF}}}resource")
            if resource:
                yield ns, local, resource
            elif len(el) == 0 and el.text and el.text.strip():
                yield ns, local, el.text.strip()
            elif ns != RDF:  # an rdf:Alt/Seq/Bag: its rdf:li items
                for li in el.iter(f"{{{RDF}}}li"):
                    if li.text and li.text.strip():
                        yield ns, local, li.text.strip()


@registry.register
class XMP(Extractor):
    name = "xmp"
    description = "XMP: IPTC DigitalSourceType, CreatorTool, edit history, camera fields"

    def applies(self, view: FileView) -> bool:
        return bool(view.xmp)

    def extract(self, view: FileView) -> list[Evidence]:
        items: list[Evidence] = []
        for packet, source in view.xmp:
            items.extend(self._packet(packet, source))
        return items

    def _packet(self, packet: bytes, source: str) -> list[Evidence]:
        if len(packet) > MAX_XMP_BYTES:
            msg = f"XMP packet of {len(packet):,} bytes is over the {MAX_XMP_BYTES:,} limit"
            return [self.item("error", msg, source, "none")]
        start = packet.find(b"<x:xmpmeta")
        body = packet[start:] if start >= 0 else packet
        end = body.rfind(b"</x:xmpmeta>")
        body = body[: end + len(b"</x:xmpmeta>")] if end >= 0 else body
        try:
            root = SafeET.fromstring(body)
        except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
            return [self.item("error", f"XMP not readable: {exc}", source, "none")]
        items, seen = [], set()
        for ns, local, value in _values(root):
            if (ns, local, value) in seen:
                continue
            seen.add((ns, local, value))
            if ns == IPTC_EXT and local == "DigitalSourceType":
                found = claim_for(value)
                claim = found[0] if found else "software"
                val = {"digitalSourceType": value, "source_type": found[1] if found else None}
                items.append(
                    self.item(claim, val, f"{source} Iptc4xmpExt:DigitalSourceType", "weak")
                )
            elif (ns, local) in _FIELDS:
                claim, label = _FIELDS[(ns, local)]
                items.append(self.item(claim, value, f"{source} {label}", "weak"))
        return items
