"""A case as the tools of investigators read it (issue 19): a Project VIC / VICS 2.0 case file
(``#Cases``: the case with its ``Media``), which Griffeye and IPED import, and CSV with a row
per file. Properties are those of the VICS 2.0 data model (CSDL namespace ``CEModel``):

- ``Case``: a stable ``CaseID`` (a GUID derived from the case), ``CaseNumber``
  (``vigil-case-N``), the reporter's contact, ``TotalMediaFiles``, ``TotalPrecategorized``,
  ``SourceApplicationName``/``Version``; the priority, its reasons and the suggested
  jurisdiction as ``CaseMetadata``;
- ``Media`` per distinct MD5 (its key): ``SHA1``, a list entry's ``Category``, ``Series``
  and ``VictimIdentified`` where the file matched one (``IsPrecategorized`` then true, with
  the list as ``PrecategorizationSource``), PDQ in ``AlternativeHashes``, each reported file
  in ``MediaFiles``, EXIF in ``Exifs``, and the cluster, how the file joined it and its
  evidence summary in ``MediaMetadata``.

A file reported without an MD5 cannot be a VICS ``Media`` (MD5 is the key): it is left out
and counted (``skipped``), never silently."""

from __future__ import annotations

import csv
import io
import uuid
from importlib.metadata import version
from typing import Any

from vigil.store import Store
from vigil.triage.views import case_view, report_view

__all__ = ["CONTEXT", "case_csv", "case_vics"]

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Cases"
NAMESPACE = uuid.UUID("6f1c3c52-3b7e-4a57-9a8e-6b0e0e6f7a10")  # Vigil's, for CaseIDs
CSV_FIELDS = ("case", "report", "position", "name", "md5", "sha1", "sha256", "pdq", "cluster",
              "how", "evidence", "matches")  # fmt: skip


def _listed(matches: list[dict[str, Any]]) -> dict[str, Any]:
    """What the strongest list match says of the file, in VICS properties."""
    for m in matches:
        out: dict[str, Any] = {"PrecategorizationSource": m["list"]}
        if isinstance(m.get("category"), int) and 0 <= m["category"] <= 255:
            out["Category"] = m["category"]
        for ours, theirs in (("series", "Series"), ("victim_identified", "VictimIdentified")):
            if m.get(ours) is not None:
                out[theirs] = m[ours]
        return out
    return {}


def _media(md5: str, files: list[dict[str, Any]], media_id: int) -> dict[str, Any]:
    first, key = files[0], md5.upper()
    listed = _listed(first["matches"])
    media: dict[str, Any] = {"MD5": key, "MediaID": media_id, "IsPrecategorized": bool(listed),
                             **listed}  # fmt: skip
    if sha1 := first["hashes"].get("sha1"):
        media["SHA1"] = sha1.upper()
    if pdq := first["hashes"].get("pdq"):
        media["AlternativeHashes"] = [{"MD5": key, "HashName": "PDQ", "HashValue": pdq}]
    media["MediaFiles"] = [{"MD5": key, "MediaFileID": n, "FileName": f["name"]}
                           for n, f in enumerate(files, 1)]  # fmt: skip
    meta = {
        "vigil.cluster": str(first["cluster"]),
        "vigil.how": first["how"],
        "vigil.reports": ",".join(str(r) for r in dict.fromkeys(f["report"] for f in files)),
    }
    if first.get("evidence"):
        meta["vigil.evidence"] = first["evidence"]
    media["MediaMetadata"] = [{"MD5": key, "PropertyName": k, "PropertyValue": v}
                              for k, v in meta.items()]  # fmt: skip
    return media


def case_vics(store: Store, case_id: int) -> tuple[dict[str, Any], int]:
    """The VICS 2.0 case file of case ``case_id``, and how many files had no MD5 (left out)."""
    view = case_view(store, case_id, limit=1_000_000)
    by_md5: dict[str, list[dict[str, Any]]] = {}
    skipped = 0
    for f in view["file_list"]:
        if md5 := f["hashes"].get("md5"):
            by_md5.setdefault(md5, []).append(f)
        else:
            skipped += 1
    media = [_media(md5, files, n) for n, (md5, files) in enumerate(by_md5.items(), 1)]
    case_guid = str(uuid.uuid5(NAMESPACE, f"{case_id}|{view['created_at']}"))
    contact = _contact(store, view)
    meta = {
        "vigil.priority": str(view["priority"]),
        "vigil.reasons": "; ".join(view["reasons"]),
        "vigil.jurisdiction": view["jurisdiction"],
        "vigil.user": view["user"] or "",
    }
    case = {"CaseID": case_guid, "CaseNumber": f"vigil-case-{case_id}", **contact,
            "TotalMediaFiles": len(media),
            "TotalPrecategorized": sum(1 for m in media if m["IsPrecategorized"]),
            "SourceApplicationName": "Vigil", "SourceApplicationVersion": version("vigil"),
            "CaseMetadata": [{"CaseID": case_guid, "PropertyName": k, "PropertyValue": v}
                             for k, v in meta.items() if v],
            "Media": media}  # fmt: skip
    return {"@odata.context": CONTEXT, "value": [case]}, skipped


def _contact(store: Store, view: dict[str, Any]) -> dict[str, str]:
    """The latest report's reporter, as the case's contact."""
    reports = view["report_list"]
    body = report_view(store, reports[-1]["id"])["report"] if reports else {}
    rep = body.get("reporter") or {}
    name = " ".join(x for x in (rep.get("first_name"), rep.get("last_name")) if x)
    out = {
        "ContactOrganization": body.get("platform", ""),
        "ContactName": name,
        "ContactEmail": rep.get("email", ""),
        "ContactPhone": rep.get("phone", ""),
    }
    return {k: v for k, v in out.items() if v}  # fmt: skip


def case_csv(store: Store, case_id: int) -> str:
    """A row per file of case ``case_id``: where it was reported, its hashes, cluster and
    matches (``list:entry:kind``, separated by spaces)."""
    view = case_view(store, case_id, limit=1_000_000)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for f in view["file_list"]:
        matches = " ".join(f"{m['list']}:{m['entry']}:{m['kind']}" for m in f["matches"])
        writer.writerow({"case": case_id, "report": f["report"], "position": f["position"],
                         "name": f["name"], **{k: f["hashes"].get(k, "") for k in
                                               ("md5", "sha1", "sha256", "pdq")},
                         "cluster": f["cluster"], "how": f["how"],
                         "evidence": f.get("evidence", ""), "matches": matches})  # fmt: skip
    return out.getvalue()
