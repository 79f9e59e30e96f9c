"""Reports back to JSON: :func:`report_to_dict` writes the shape :func:`report_from_dict`
reads (docs/triage.md), so that a stored or queued report reads back as the same report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.triage.model import FileEvidence, IpEvent, Location, Report, ReportedUser, ReportFile

__all__ = ["report_to_dict"]


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _ip_dict(e: IpEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"address": e.address, "event": e.event}
    if e.at is not None:
        out["at"] = _when(e.at)
    if e.port is not None:
        out["port"] = e.port
    if e.possible_proxy is not None:
        out["possible_proxy"] = e.possible_proxy
    return out


def _evidence_dict(e: FileEvidence) -> dict[str, Any]:
    return {"label": e.label, "strength": e.strength, "conflicts": list(e.conflicts),
            "models": [{"type": t, "hash": h, "name": n} for t, h, n in e.models]}  # fmt: skip


def _file_dict(f: ReportFile) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "hashes": dict(f.hashes), "url": f.url,
                           "generative_ai": f.generative_ai, "exif": dict(f.exif)}  # fmt: skip
    if f.uploaded_at is not None:
        out["uploaded_at"] = _when(f.uploaded_at)
    if f.upload_ip is not None:
        out["upload_ip"] = _ip_dict(f.upload_ip)
    for key in ("classification", "viewed_by_esp", "publicly_available"):
        if getattr(f, key) is not None:
            out[key] = getattr(f, key)
    if f.gps is not None:
        out["gps"] = {"latitude": f.gps[0], "longitude": f.gps[1]}
    if f.evidence is not None:
        out["evidence"] = _evidence_dict(f.evidence)
    if f.kept is not None:
        out["kept"] = f.kept
    return out


def _user_dict(u: ReportedUser) -> dict[str, Any]:
    out = {"esp_id": u.esp_id, "screen_name": u.screen_name,
           "display_names": list(u.display_names), "emails": list(u.emails),
           "profile_urls": list(u.profile_urls),
           "ip_events": [_ip_dict(e) for e in u.ip_events],
           "devices": [{"type": t, "value": v} for t, v in u.devices]}  # fmt: skip
    if u.phones:  # fields added later are written only when set: a report's key stays
        out["phones"] = list(u.phones)
    return out


def _location_dict(loc: Location) -> dict[str, str]:
    return {"country": loc.country, "region": loc.region, "city": loc.city}


def report_to_dict(report: Report) -> dict[str, Any]:
    """``report`` in the JSON shape :func:`vigil.triage.report_from_dict` reads (it reads
    this back as the same report)."""
    rep = report.reporter
    out = {
        "incident_type": report.incident_type, "incident_at": _when(report.incident_at),
        "platform": report.platform, "urls": list(report.urls),
        "annotations": list(report.annotations), "escalate": report.escalate,
        "reporter": {"email": rep.email, "first_name": rep.first_name,
                     "last_name": rep.last_name, "phone": rep.phone},
        "users": [_user_dict(u) for u in report.users],
        "files": [_file_dict(f) for f in report.files],
        "text": report.text,
    }  # fmt: skip
    if report.location is not None:
        out["location"] = _location_dict(report.location)
    return out
