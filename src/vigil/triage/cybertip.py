"""CyberTipline reports (NCMEC's Reporting API, issue 19): a :class:`Report` as the ``report``
XML the API's ``/submit`` takes, and each file's ``fileDetails`` for ``/fileinfo``. Elements go
in the schema's sequence order (NCMEC refuses any other with responseCode 4100); optional ones
are left out when there is nothing to say, and the boolean annotations, which the schema fixes
to ``true``, are written only when they hold. ``generativeAi`` is written only where a
reviewer confirmed it (:attr:`ReportFile.generative_ai`) or the file's evidence proves it (a
generator's C2PA manifest, verified against the operator's trust anchors, and no conflicting
evidence), never from a guess: a false label can send a real child's case to the bottom of a
queue."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from vigil.triage.model import INCIDENT_TYPES, IpEvent, Report, ReportedUser, ReportFile

__all__ = ["file_details_xml", "report_xml"]

HASH_TYPES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ"}


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def _flag(parent: ET.Element, tag: str, value: bool | None) -> None:
    if value is not None:
        _add(parent, tag, "true" if value else "false")


def _ip(parent: ET.Element, event: IpEvent) -> None:
    """``ipCaptureEvent``: ipAddress, eventName, dateTime, possibleProxy, port."""
    node = _add(parent, "ipCaptureEvent")
    _add(node, "ipAddress", event.address)
    _add(node, "eventName", event.event)
    if event.at is not None:
        _add(node, "dateTime", _stamp(event.at))
    _flag(node, "possibleProxy", event.possible_proxy)
    if event.port is not None:
        _add(node, "port", str(event.port))


def _summary(root: ET.Element, report: Report) -> None:
    """``incidentSummary``: incidentType, platform, escalateToHighPriority,
    reportAnnotations, incidentDateTime."""
    node = _add(root, "incidentSummary")
    _add(node, "incidentType", INCIDENT_TYPES[report.incident_type])
    if report.platform:
        _add(node, "platform", report.platform)
    if report.escalate:
        _add(node, "escalateToHighPriority", report.escalate)
    if report.annotations:
        notes = _add(node, "reportAnnotations")
        for name in report.annotations:
            _add(notes, name, "true")
    _add(node, "incidentDateTime", _stamp(report.incident_at))


def _user(root: ET.Element, user: ReportedUser) -> None:
    """``personOrUserReported``, in its sequence: person (phones, emails), espIdentifier,
    screenName, displayName, profileUrl, ipCaptureEvent, deviceId."""
    node = _add(root, "personOrUserReported")
    if user.emails or user.phones:
        person = _add(node, "personOrUserReportedPerson")
        for number in user.phones:
            _add(person, "phone", number)
        for email in user.emails:
            _add(person, "email", email)
    if user.esp_id:
        _add(node, "espIdentifier", user.esp_id)
    if user.screen_name:
        _add(node, "screenName", user.screen_name)
    for name in user.display_names:
        _add(node, "displayName", name)
    for url in user.profile_urls:
        _add(node, "profileUrl", url)
    for event in user.ip_events:
        _ip(node, event)
    for kind, value in user.devices:
        device = _add(node, "deviceId")
        _add(device, "idType", kind)
        _add(device, "idValue", value)


def report_xml(report: Report) -> bytes:
    """The ``report`` document: incidentSummary, internetDetails, reporter,
    personOrUserReported, additionalInfo, in the schema's order."""
    root = ET.Element("report")
    _summary(root, report)
    if report.urls:
        page = _add(_add(root, "internetDetails"), "webPageIncident")
        for url in report.urls:
            _add(page, "url", url)
    person = _add(_add(root, "reporter"), "reportingPerson")
    if report.reporter.first_name:
        _add(person, "firstName", report.reporter.first_name)
    if report.reporter.last_name:
        _add(person, "lastName", report.reporter.last_name)
    if report.reporter.phone:
        _add(person, "phone", report.reporter.phone)
    _add(person, "email", report.reporter.email)
    for user in report.users:
        _user(root, user)
    if info := _additional(report):
        _add(root, "additionalInfo", info)
    return _document(root)


def _additional(report: Report) -> str:
    """The free text, and the place the reporter states (the report has no element for it)."""
    said = [report.text] if report.text else []
    if (loc := report.location) is not None:
        place = ", ".join(x for x in (loc.city, loc.region, loc.country) if x)
        said.append(f"Location stated by the reporter: {place}")
    return "\n".join(said)


def file_details_xml(report_id: int, file_id: str, f: ReportFile) -> bytes:
    """``fileDetails`` for one uploaded file: reportId, fileId, originalFileName,
    uploadedToEspTimestamp, locationOfFile, fileViewedByEsp, publiclyAvailable,
    fileAnnotations, industryClassification, originalFileHash, ipCaptureEvent, details (EXIF)."""
    root = ET.Element("fileDetails")
    _add(root, "reportId", str(report_id))
    _add(root, "fileId", file_id)
    _add(root, "originalFileName", f.name)
    if f.uploaded_at is not None:
        _add(root, "uploadedToEspTimestamp", _stamp(f.uploaded_at))
    if f.url:
        _add(root, "locationOfFile", f.url)
    _flag(root, "fileViewedByEsp", f.viewed_by_esp)
    _flag(root, "publiclyAvailable", f.publicly_available)
    if f.generative_ai or _verified_ai(f):
        _add(_add(root, "fileAnnotations"), "generativeAi", "true")
    if f.classification:
        _add(root, "industryClassification", f.classification)
    for kind, value in f.hashes.items():
        if kind in HASH_TYPES:
            _add(root, "originalFileHash", value, hashType=HASH_TYPES[kind])
    if f.upload_ip is not None:
        _ip(root, f.upload_ip)
    if f.exif:
        details = _add(root, "details", type="EXIF")
        for name, value in sorted(f.exif.items()):
            pair = _add(details, "nameValuePair")
            _add(pair, "name", name)
            _add(pair, "value", value)
    return _document(root)


def _verified_ai(f: ReportFile) -> bool:
    """The file's evidence says it was generated, verified (a C2PA manifest signed by a
    trusted signer), with nothing against it: a fact, not a guess."""
    e = f.evidence
    return e is not None and e.label == "ai_generated" and e.strength == "verified" and (
        not e.conflicts)  # fmt: skip


def _document(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
