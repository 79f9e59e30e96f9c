"""Priority with reasons (issue 19): ordered rules, from a TOML file or the defaults below.
Each rule names a priority (1 is the most urgent) and a reason, and holds when all of its
conditions do; a report takes the most urgent priority of the rules that hold, and shows every
such rule's reason. A rule with ``raise`` instead of a priority is an escalation: when it
holds, the report's priority goes up by that many levels (never above 1). Rules see only
hashes, matches, list metadata, the files' evidence and the report's own fields, never content.

```toml
[[rule]]
priority = 1
reason = "new material that reads as camera-original (possible ongoing abuse)"
new_material = true
evidence = "camera_original"

[[rule]]
raise = 1
reason = "solicitation of abuse material"
annotation = "csamSolicitation"
```

Conditions on the **report**: ``escalated`` (it says why it must be seen at once),
``annotation`` (one of its annotations, e.g. ``sextortion``), ``incident_type`` (e.g.
``enticement``), ``identified_victim`` (every match is of identified victims), ``jurisdiction``
(the country its geolocation hints suggest). On **one file**: ``new_material`` (the file
matches no list: possibly ongoing abuse), ``evidence`` (its evidence summary:
``camera_original``, ``ai_generated``, ...), ``listed_model`` (its evidence names a listed model
or LoRA). On **one match** of that file: ``kind`` (``exact``, ``near_duplicate``,
``altered_copy``, ``shared_scene``), ``series`` (an entry of a known series),
``unidentified_victim`` (an entry whose victim is not identified), ``list``. A rule's file and
match conditions must all hold of the same file and the same match."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import InputError
from vigil.matching.match import MODEL_HASHES
from vigil.triage.model import Report, ReportFile

__all__ = ["DEFAULT_RULES", "LOWEST", "Facts", "Rule", "load_rules", "prioritise"]

LOWEST = 5
Match = dict[str, Any]


@dataclass
class Facts:
    """What the rules may look at: the report, each file's matches as answered (content
    matches and listed models its evidence names), and the suggested jurisdiction."""

    report: Report
    matches: list[list[Match]] = field(default_factory=list)  # per file
    jurisdiction: str = ""

    def content(self, n: int) -> list[Match]:
        """File ``n``'s matches of its own content (not of models its evidence names)."""
        return [m for m in self.matches[n] if m.get("signal_type") not in MODEL_HASHES]

    def every_match(self) -> list[Match]:
        return [m for n in range(len(self.matches)) for m in self.content(n)]


def _identified(f: Facts, want: Any) -> bool:
    found = f.every_match()
    every = bool(found) and all(m.get("victim_identified") is True for m in found)
    return every == bool(want)


REPORT: dict[str, Callable[[Facts, Any], bool]] = {
    "escalated": lambda f, want: bool(f.report.escalate) == want,
    "annotation": lambda f, want: want in f.report.annotations,
    "incident_type": lambda f, want: f.report.incident_type == want,
    "identified_victim": _identified,
    "jurisdiction": lambda f, want: f.jurisdiction == str(want).upper(),
}
FILE: dict[str, Callable[[Facts, int, ReportFile, Any], bool]] = {
    "new_material": lambda f, n, _, want: (not f.content(n)) == want,
    "evidence": lambda _f, _n, rf, want: (rf.evidence.label if rf.evidence else "unknown") == want,
    "listed_model": lambda f, n, _, want: (
        any(m.get("signal_type") in MODEL_HASHES for m in f.matches[n]) == want
    ),
}
MATCH: dict[str, Callable[[Match, Any], bool]] = {
    "kind": lambda m, want: m.get("kind") == want,
    "series": lambda m, want: bool(m.get("series")) == want,
    "unidentified_victim": lambda m, want: (m.get("victim_identified") is False) == want,
    "list": lambda m, want: m.get("list") == want,
}
CONDITIONS = (*REPORT, *FILE, *MATCH)


@dataclass(frozen=True)
class Rule:
    priority: int  # 1..LOWEST; 0 for an escalation
    reason: str
    when: dict[str, Any]
    raises: int = 0  # an escalation: levels it raises the report's priority by

    def holds(self, facts: Facts) -> bool:
        if not all(REPORT[k](facts, v) for k, v in self.when.items() if k in REPORT):
            return False
        on_file = {k: v for k, v in self.when.items() if k in FILE}
        on_match = {k: v for k, v in self.when.items() if k in MATCH}
        if not on_file and not on_match:
            return True
        return any(self._file_holds(facts, n, rf, on_file, on_match)
                   for n, rf in enumerate(facts.report.files))  # fmt: skip

    @staticmethod
    def _file_holds(facts: Facts, n: int, rf: ReportFile, on_file: dict[str, Any],
                    on_match: dict[str, Any]) -> bool:  # fmt: skip
        if not all(FILE[k](facts, n, rf, v) for k, v in on_file.items()):
            return False
        return not on_match or any(all(MATCH[k](m, v) for k, v in on_match.items())
                                   for m in facts.content(n))  # fmt: skip

    def said(self) -> str:
        return f"raised {self.raises}: {self.reason}" if self.raises else (
            f"P{self.priority}: {self.reason}")  # fmt: skip


def _rule(priority: int, reason: str, **when: Any) -> Rule:
    return Rule(priority, reason, when)


DEFAULT_RULES = [
    _rule(1, "the reporter asks for escalation", escalated=True),
    _rule(1, "sextortion", annotation="sextortion"),
    _rule(1, "online enticement of a child", incident_type="enticement"),
    _rule(1, "sadistic online exploitation", annotation="sadisticOnlineExploitation"),
    _rule(
        1,
        "new material that reads as camera-original (possible ongoing abuse)",
        new_material=True,
        evidence="camera_original",
    ),
    _rule(2, "new material: a file matches no list (possible ongoing abuse)", new_material=True),
    _rule(
        2,
        "a known scene with a new subject: a shared scene of a known series (possibly a "
        "new victim)",
        kind="shared_scene",
        series=True,
    ),
    _rule(2, "known material of a victim not yet identified", unidentified_victim=True),
    _rule(3, "AI-made material naming a listed model or LoRA", listed_model=True),
    _rule(3, "material of a known series", series=True),
    _rule(
        4,
        "known material of identified victims, re-shared (still reported)",
        identified_victim=True,
    ),
    Rule(0, "solicitation of abuse material", {"annotation": "csamSolicitation"}, raises=1),
]


def _read_rule(raw: dict[str, Any], where: str, path: Path) -> Rule:
    priority, reason = raw.pop("priority", None), raw.pop("reason", None)
    raises = raw.pop("raise", None)
    if (priority is None) == (raises is None):
        raise InputError(str(path), f"{where}: give a priority or a raise, one of the two")
    if raises is not None and (not isinstance(raises, int) or not 1 <= raises < LOWEST):
        raise InputError(str(path), f"{where}: raise must be 1 to {LOWEST - 1}")
    if priority is not None and (not isinstance(priority, int) or not 1 <= priority <= LOWEST):
        raise InputError(str(path), f"{where}: priority must be 1 to {LOWEST}")
    if not isinstance(reason, str) or not reason:
        raise InputError(str(path), f"{where}: needs a reason")
    if unknown := sorted(set(raw) - set(CONDITIONS)):
        raise InputError(str(path), f"{where}: no condition {unknown[0]!r} "
                         f"(conditions: {', '.join(CONDITIONS)})")  # fmt: skip
    return Rule(priority or 0, reason, raw, raises or 0)


def load_rules(path: Path) -> list[Rule]:
    """Rules from a TOML file (``[[rule]]`` tables); InputError naming the file and the rule."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), f"not a rules file: {exc}") from None
    rules = [_read_rule(dict(raw), f"rule {n}", path)
             for n, raw in enumerate(data.get("rule") or [], 1)]  # fmt: skip
    if not rules:
        raise InputError(str(path), "no [[rule]] in it")
    return rules


def prioritise(facts: Facts, rules: list[Rule]) -> tuple[int, list[str]]:
    """The report's priority (1 most urgent) and the reasons of every rule that holds."""
    held = [r for r in rules if r.holds(facts)]
    fixed = [r.priority for r in held if not r.raises]
    priority = min(fixed, default=LOWEST)
    priority = max(1, priority - max((r.raises for r in held), default=0))
    return priority, [r.said() for r in held] or ["no rule applies"]
