"""Taking reports in (issue 19): each file matched once, clustered with the same image across
reports (exact by cryptographic hash, near duplicates by PDQ), each report given a priority
and every reason for it, and a report taken in twice stored once. Hashes come from the
committed benign photos and a transformed copy of one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vigil.errors import InputError
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import Triage
from vigil.triage.rules import load_rules

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "photos").rglob("*.jpg"))


def _hashes(data: bytes) -> dict[str, str]:
    result = hash_bytes(data, "photo", ["md5", "sha1", "pdq"])
    return {t: s.value for t, s in result.signals.items()}


def _smaller(path: Path) -> bytes:
    """The photo halved and saved again at a lower quality: a near copy, not the same bytes."""
    with Image.open(path) as im:
        out = io.BytesIO()
        im.resize((im.width // 2, im.height // 2)).save(out, "JPEG", quality=70)
    return out.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    s.create_list("known")
    yield s
    s.close()


def _report(files: list[dict[str, str]], **more: Any) -> Any:
    data = {"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
            "reporter": {"email": "safety@example.org"},
            "files": [{"name": f"file-{n}.jpg", "hashes": h} for n, h in enumerate(files)],
            **more}  # fmt: skip
    return report_from_dict(data, "test")


def test_files_cluster_across_reports_and_reports_get_their_reasons(store: Store) -> None:
    a, b, c = (_hashes(p.read_bytes()) for p in PHOTOS[:3])
    near_a = _hashes(_smaller(PHOTOS[0]))
    assert near_a["md5"] != a["md5"]
    store.apply("known", [
        Entry("series-1", [("md5", b["md5"])], series="S1", victim_identified=False),
        Entry("identified-1", [("md5", c["md5"])], victim_identified=True)])  # fmt: skip
    triage = Triage(store)
    first = triage.ingest(_report([a]), "r1")
    assert first.clusters[0][1] == "new"
    assert first.priority == 2
    assert "new material" in first.reasons[0]
    near = triage.ingest(_report([near_a]), "r2")
    assert near.clusters == [(first.clusters[0][0], "near_duplicate")]
    same = triage.ingest(_report([{"md5": a["md5"]}]), "r3")
    assert same.clusters == [(first.clusters[0][0], "exact")]
    known = triage.ingest(_report([b]), "r4")
    assert known.priority == 2
    assert [r.split(": ", 1)[1] for r in known.reasons] == [
        "known material of a victim not yet identified",
        "material of a known series",
    ]
    reshared = triage.ingest(_report([c]), "r5")
    assert (reshared.priority, len(reshared.reasons)) == (4, 1)
    urgent = triage.ingest(_report([c], escalate="a child is in danger now"), "r6")
    assert urgent.priority == 1
    assert urgent.reasons[0] == "P1: the reporter asks for escalation"
    again = Triage(store).ingest(_report([a]), "r1 again")  # a fresh process: same report
    assert (again.duplicate, again.id) == (True, first.id)
    later = Triage(store).ingest(_report([near_a], text="seen again"), "r7")
    assert later.clusters == [(first.clusters[0][0], "exact")]  # the cluster index reloads


def test_rules_come_from_a_file_and_a_bad_one_is_named(store: Store, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    every = '[[rule]]\npriority = 3\nreason = "every report, at 3"\n'
    sextortion = '[[rule]]\npriority = 1\nreason = "sextortion"\nannotation = "sextortion"\n'
    rules.write_text(every + sextortion)
    triage = Triage(store, load_rules(rules))
    plain = triage.ingest(_report([_hashes(PHOTOS[0].read_bytes())]), "r1")
    assert (plain.priority, plain.reasons) == (3, ["P3: every report, at 3"])
    sext = triage.ingest(_report([{"md5": "ab" * 16}], annotations=["sextortion"]), "r2")
    assert sext.priority == 1
    rules.write_text('[[rule]]\npriority = 2\nreason = "x"\nblue_eyes = true\n')
    with pytest.raises(InputError, match="rule 1: no condition 'blue_eyes'"):
        load_rules(rules)


@pytest.mark.slow
def test_an_ingest_killed_midway_resumes_with_none_lost_or_duplicated(tmp_path: Path) -> None:
    import hashlib
    import json
    import signal
    import subprocess
    import sys

    from sqlalchemy import func, select

    from vigil.store.schema import triage_files, triage_reports

    def report(n: int) -> str:
        files = [
            {
                "name": f"{n}-{k}.jpg",
                "hashes": {
                    "md5": hashlib.md5(f"{n}-{k}".encode()).hexdigest(),
                    "pdq": hashlib.sha256(f"{n}-{k}".encode()).hexdigest(),
                },
            }
            for k in range(1 + n % 3)
        ]
        return json.dumps({"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
                           "reporter": {"email": "safety@example.org"}, "text": f"r{n}",
                           "files": files})  # fmt: skip

    reports = tmp_path / "reports.jsonl"
    reports.write_text("".join(report(n) + "\n" for n in range(1500)))
    run = [str(Path(sys.executable).with_name("vigil")), "--home", str(tmp_path / "home"),
           "report", "ingest", str(reports), "--json"]  # fmt: skip
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(200):  # some reports are in: kill it wherever it is
        assert proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    again = subprocess.run(run, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    lines = [json.loads(x) for x in again.stdout.splitlines()]
    assert len(lines) == 1500
    assert sum(x["duplicate"] for x in lines) >= 200  # those were not taken in twice
    store = Store.open(tmp_path / "home")
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(triage_reports)).scalar()
        files = conn.execute(select(func.count()).select_from(triage_files)).scalar()
    store.close()
    assert (count, files) == (1500, sum(1 + n % 3 for n in range(1500)))
