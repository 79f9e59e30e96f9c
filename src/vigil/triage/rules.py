"""Priority with reasons (issue 19): ordered rules, from a TOML file or the defaults below.
Each rule names a priority (1 is the most urgent) and a reason, and holds when every one of its
conditions does; a report takes the most urgent priority of the rules that hold, and shows every
such rule's reason. Rules see only hashes, matches, list metadata and the report's own fields,
never content.

```toml
[[rule]]
priority = 1
reason = "the reporter asks for escalation"
escalated = true
```

Conditions: ``escalated`` (the report says why it must be seen at once), ``annotation`` (one of
the report's annotations, e.g. ``sextortion``), ``incident_type`` (e.g. ``enticement``),
``new_material`` (a file matches no list: possibly ongoing abuse), ``unidentified_victim`` (a
file matches a list entry whose victim is not identified), ``identified_victim`` (every match
is of identified victims), ``series`` (a file matches an entry of a known series), ``kind``
(a match of this kind: ``exact``, ``near_duplicate``, ...)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import InputError
from vigil.triage.model import Report

__all__ = ["DEFAULT_RULES", "Facts", "Rule", "load_rules", "prioritise"]

LOWEST = 5


@dataclass
class Facts:
    """What the rules may look at: the report, and each file's matches as answered."""

    report: Report
    matches: list[list[dict[str, Any]]] = field(default_factory=list)  # per file


def _all_matches(f: Facts) -> list[dict[str, Any]]:
    return [m for per_file in f.matches for m in per_file]


CONDITIONS: dict[str, Callable[[Facts, Any], bool]] = {
    "escalated": lambda f, want: bool(f.report.escalate) == want,
    "annotation": lambda f, want: want in f.report.annotations,
    "incident_type": lambda f, want: f.report.incident_type == want,
    "new_material": lambda f, want: any(not m for m in f.matches) == want,
    "unidentified_victim": lambda f, want: (
        any(m.get("victim_identified") is False for m in _all_matches(f)) == want
    ),
    "identified_victim": lambda f, want: (
        (bool(_all_matches(f)) and all(m.get("victim_identified") is True for m in _all_matches(f)))
        == want
    ),
    "series": lambda f, want: any(m.get("series") for m in _all_matches(f)) == want,
    "kind": lambda f, want: any(m.get("kind") == want for m in _all_matches(f)),
}


@dataclass(frozen=True)
class Rule:
    priority: int
    reason: str
    when: dict[str, Any]

    def holds(self, facts: Facts) -> bool:
        return all(CONDITIONS[name](facts, want) for name, want in self.when.items())


DEFAULT_RULES = [
    Rule(1, "the reporter asks for escalation", {"escalated": True}),
    Rule(1, "sextortion", {"annotation": "sextortion"}),
    Rule(1, "online enticement of a child", {"incident_type": "enticement"}),
    Rule(
        2, "new material: a file matches no list (possible ongoing abuse)", {"new_material": True}
    ),
    Rule(2, "known material of a victim not yet identified", {"unidentified_victim": True}),
    Rule(3, "material of a known series", {"series": True}),
    Rule(
        4,
        "known material of identified victims, re-shared (still reported)",
        {"identified_victim": True},
    ),
]


def load_rules(path: Path) -> list[Rule]:
    """Rules from a TOML file (``[[rule]]`` tables); InputError naming the file and the rule."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), f"not a rules file: {exc}") from None
    rules = []
    for n, raw in enumerate(data.get("rule") or [], 1):
        where = f"rule {n}"
        raw = dict(raw)
        priority, reason = raw.pop("priority", None), raw.pop("reason", None)
        if not isinstance(priority, int) or not 1 <= priority <= LOWEST:
            raise InputError(str(path), f"{where}: priority must be 1 to {LOWEST}")
        if not isinstance(reason, str) or not reason:
            raise InputError(str(path), f"{where}: needs a reason")
        if unknown := sorted(set(raw) - set(CONDITIONS)):
            raise InputError(str(path), f"{where}: no condition {unknown[0]!r} "
                             f"(conditions: {', '.join(CONDITIONS)})")  # fmt: skip
        rules.append(Rule(priority, reason, raw))
    if not rules:
        raise InputError(str(path), "no [[rule]] in it")
    return rules


def prioritise(facts: Facts, rules: list[Rule]) -> tuple[int, list[str]]:
    """The report's priority (1 most urgent) and the reasons of every rule that holds."""
    held = [r for r in rules if r.holds(facts)]
    if not held:
        return LOWEST, ["no rule applies"]
    return min(r.priority for r in held), [f"P{r.priority}: {r.reason}" for r in held]
