"""Triage (issue 19): reports of incidents, read strictly (:func:`report_from_dict`), and the
CyberTipline report XML NCMEC takes (:func:`report_xml`, :func:`file_details_xml`). Cases,
clusters, priorities and the submission flow are to come. See docs/triage.md."""

from vigil.triage.cybertip import file_details_xml, report_xml
from vigil.triage.intake import MAX_FILES, report_from_dict
from vigil.triage.model import IpEvent, Report, ReportedUser, Reporter, ReportFile

__all__ = [
    "MAX_FILES",
    "IpEvent",
    "Report",
    "ReportFile",
    "ReportedUser",
    "Reporter",
    "file_details_xml",
    "report_from_dict",
    "report_xml",
]
