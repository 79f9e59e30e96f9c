"""What a report holds (issue 19): who reports, the incident, the reported user, the files.
Hashes and metadata only: a file is its name, hashes, times and where it was uploaded from,
never its content."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "ANNOTATIONS",
    "CLASSIFICATIONS",
    "INCIDENT_TYPES",
    "IP_EVENTS",
    "FileEvidence",
    "IpEvent",
    "Location",
    "Report",
    "ReportFile",
    "ReportedUser",
    "Reporter",
]

# the CyberTipline's incident types, by the short names Vigil's JSON uses
INCIDENT_TYPES = {
    "csam": "Child Pornography (possession, manufacture, and distribution)",
    "trafficking": "Child Sex Trafficking",
    "tourism": "Child Sex Tourism",
    "molestation": "Child Sexual Molestation",
    "misleading_domain": "Misleading Domain Name",
    "misleading_content": "Misleading Words or Digital Images on the Internet",
    "enticement": "Online Enticement of Children for Sexual Acts",
    "obscene_to_child": "Unsolicited Obscene Material Sent to a Child",
}
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")  # the industry classification of a file
IP_EVENTS = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")
ANNOTATIONS = ("sextortion", "csamSolicitation", "minorToMinorInteraction", "spam",
               "sadisticOnlineExploitation")  # fmt: skip


@dataclass(frozen=True)
class IpEvent:
    address: str
    event: str = "Unknown"  # one of IP_EVENTS
    at: datetime | None = None
    port: int | None = None
    possible_proxy: bool | None = None


@dataclass
class Reporter:
    """The person (at the platform) who reports, and the platform's contact for NCMEC."""

    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Location:
    """A place as the reporter states it: an ISO 3166 country code, and region and city."""

    country: str = ""
    region: str = ""
    city: str = ""


@dataclass(frozen=True)
class FileEvidence:
    """What a file says about how it was made (:mod:`vigil.evidence`), as its summary: the
    label (``ai_generated``, ``ai_edited``, ``edited``, ``camera_original``, ``unknown``),
    the strongest supporting item's strength, conflicts, and the models it names by hash
    ((type, hash, name): matched against the lists like any hash)."""

    label: str = "unknown"
    strength: str = "none"
    conflicts: tuple[str, ...] = ()
    models: tuple[tuple[str, str, str], ...] = ()


@dataclass
class ReportedUser:
    esp_id: str = ""  # the platform's id of the account
    screen_name: str = ""
    display_names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    profile_urls: list[str] = field(default_factory=list)
    ip_events: list[IpEvent] = field(default_factory=list)
    devices: list[tuple[str, str]] = field(default_factory=list)  # (id type, value): IMEI, ...
    phones: list[str] = field(default_factory=list)  # as given; +CC numbers say a country


@dataclass
class ReportFile:
    name: str
    hashes: dict[str, str]  # "md5", "sha1", "sha256", "pdq", ... -> value
    uploaded_at: datetime | None = None
    upload_ip: IpEvent | None = None
    url: str = ""  # where it was on the platform
    classification: str | None = None  # A1..B2, from a reviewer's grade
    viewed_by_esp: bool | None = None
    publicly_available: bool | None = None
    generative_ai: bool = False  # a reviewer confirmed it AI-made: never set from a guess
    exif: dict[str, str] = field(default_factory=dict)
    gps: tuple[float, float] | None = None  # (latitude, longitude): EXIF GPS, or the platform's
    evidence: FileEvidence | None = None  # how it was made, where the file was inspected
    kept: int | None = None  # Vigil's kept content id, where a list rule kept the upload


@dataclass
class Report:
    """One incident, as a platform reports it."""

    incident_type: str  # a key of INCIDENT_TYPES
    incident_at: datetime
    reporter: Reporter
    platform: str = ""
    urls: list[str] = field(default_factory=list)  # where it happened (web pages)
    annotations: list[str] = field(default_factory=list)  # of ANNOTATIONS
    escalate: str = ""  # why it must be seen at once (escalateToHighPriority), if it must
    users: list[ReportedUser] = field(default_factory=list)
    files: list[ReportFile] = field(default_factory=list)
    text: str = ""  # free text (additionalInfo)
    location: Location | None = None  # where the reporter says the incident happened
