"""The store: idempotent imports, deletions that stop matching, the index catching up."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import Conflict, InvalidSignal, ListNotFound, UsageError
from vigil.lists import Entry, Removal, RowProblem, formats
from vigil.matching.hashing import hash_file
from vigil.matching.match import Matcher
from vigil.signals.pdq import EXAMPLE_PDQ
from vigil.store import Store


def _entries(n: int) -> list[Entry]:
    return [Entry(f"md5:{i:032x}", [("md5", f"{i:032x}")], category=i % 3) for i in range(n)]


def test_create_and_conflict(store: Store) -> None:
    store.create_list("a", "first", pdq_threshold=20, category_labels={"1": "alert"})
    info = store.get_list("a")
    assert (info.description, info.pdq_threshold, info.category_labels) == (
        "first",
        20,
        {"1": "alert"},
    )
    with pytest.raises(Conflict):
        store.create_list("a")
    with pytest.raises(ListNotFound):
        store.get_list("b")
    with pytest.raises(UsageError, match="pdq_threshold"):
        store.create_list("c", pdq_threshold=300)


def test_reimport_changes_nothing_and_updates_apply(store: Store) -> None:
    store.create_list("a")
    first = store.apply("a", _entries(12_000))  # spans several batches
    assert (first.added, first.rows) == (12_000, 12_000)
    again = store.apply("a", _entries(12_000))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 12_000)
    changed = _entries(3)
    changed[1].tags = ["new"]
    report = store.apply("a", changed)
    assert (report.updated, report.unchanged) == (1, 2)
    assert store.get_list("a").entries == 12_000
    keys = [e.key for e in store.iter_entries("a")]  # streamed in pages of 10,000
    assert len(keys) == len(set(keys)) == 12_000


def test_row_problems_are_counted_not_raised(store: Store) -> None:
    store.create_list("a")
    report = store.apply("a", [*_entries(2), RowProblem("line 9", "bad hex")])
    assert report.added == 2
    assert report.problems == [RowProblem("line 9", "bad hex")]


def test_deleting_an_entry_removes_it_from_matching(store: Store, known_photos: list[Path]) -> None:
    store.create_list("known")
    results = [hash_file(p) for p in known_photos[:3]]
    store.apply(
        "known",
        [
            Entry(f"md5:{r.signals['md5'].value}", [(s.type, s.value) for s in r.signals.values()])
            for r in results
        ],
    )
    matcher = Matcher(store)
    target = results[0]
    assert [m.signal_type for m in matcher.match_result(target)] == ["md5"]
    pdq_only = {"pdq": target.signals["pdq"]}
    assert matcher.match_signals(pdq_only)[0].distance == 0
    store.apply("known", [Removal(f"md5:{target.signals['md5'].value}", "test")])
    assert matcher.match_result(target) == []
    assert matcher.match_signals(pdq_only) == []
    assert len(matcher.match_result(results[1])) == 1


def test_list_threshold_and_list_filter(store: Store) -> None:
    store.create_list("strict", pdq_threshold=4)
    store.create_list("loose")
    store.apply("strict", [Entry("a", [("pdq", EXAMPLE_PDQ[0])])])
    store.apply("loose", [Entry("a", [("pdq", EXAMPLE_PDQ[0])])])
    near = f"{int(EXAMPLE_PDQ[0], 16) ^ 0x3F:064x}"  # 6 bits away
    assert {m.list for m in Matcher(store).match_value("pdq", near)} == {"loose"}
    assert Matcher(store, ["strict"]).match_value("pdq", EXAMPLE_PDQ[0])[0].list == "strict"
    with pytest.raises(InvalidSignal):
        Matcher(store).match_value("pdq", "abc")


def test_delete_list_and_export_streams(store: Store) -> None:
    store.create_list("a")
    store.apply("a", _entries(7))
    out = io.BytesIO()
    assert formats.get("vics").write(store.iter_entries("a"), out).written == 7
    assert store.delete_list("a") == 7
    with pytest.raises(ListNotFound):
        store.get_list("a")


def test_index_catches_up_after_reopen(tmp_path: Path) -> None:
    s1 = Store.open(tmp_path)
    s1.create_list("a")
    s1.apply("a", [Entry("a", [("pdq", EXAMPLE_PDQ[0])])])
    s1.index("pdq")  # builds and saves at this checkpoint
    s1.apply("a", [Entry("b", [("pdq", EXAMPLE_PDQ[1])])])  # not yet in the saved index
    s1.close()
    s2 = Store.open(tmp_path)
    assert [m.entry.key for m in Matcher(s2).match_value("pdq", EXAMPLE_PDQ[1])] == ["b"]
    s2.close()


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "envhome"))
    s = Store.open()
    assert s.home == tmp_path / "envhome"
    assert (s.home / "vigil.db").exists()
    s.close()


def test_a_deleted_signals_id_is_never_given_to_a_new_one(store: Store) -> None:
    """The newest entry removed after the index holds it, then another added: the new signal
    gets a new id, so the index's tombstone for the old one does not hide it."""
    store.create_list("l")
    old, new = EXAMPLE_PDQ
    store.apply("l", [Entry("a", [("pdq", old)])])
    store.index("pdq").compact()  # the row lives in a segment: its removal is a tombstone
    store.apply("l", [Removal("a", "gone")])
    store.index("pdq")
    store.apply("l", [Entry("b", [("pdq", new)])])
    assert [m.entry.key for m in Matcher(store).match_value("pdq", new)] == ["b"]
    assert Matcher(store).match_value("pdq", old) == []


def test_one_process_at_a_time_writes_a_data_directorys_index_files(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path), Store.open(tmp_path)
    first.create_list("l")
    first.apply("l", [Entry("a", [("pdq", EXAMPLE_PDQ[0])])])
    first.sync_index("pdq")  # saves, and keeps the right to
    second.sync_index("pdq", save=False)
    assert second.save_index("pdq") is False  # the other holds the lock: nothing written
    first.close()
    second.apply("l", [Entry("b", [("pdq", EXAMPLE_PDQ[1])])])
    second.sync_index("pdq", save=False)
    assert second.save_index("pdq") is True  # now free: rewrites every segment it has
    second.close()
    third = Store.open(tmp_path)
    assert {m.entry.key for m in Matcher(third).match_value("pdq", EXAMPLE_PDQ[1])} == {"b"}
    assert third.loaded_index("pdq").checkpoint == third.last_change()
    third.close()


def test_the_migrations_make_the_schema_the_code_describes(store: Store) -> None:
    """Every table, column and index of ``vigil.store.schema`` is what the Alembic migrations
    created: a migration forgotten (or a column added to one side only) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from vigil.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    if store.engine.dialect.name == "sqlite":
        # SQLite's reflection drops ON DELETE from the foreign keys of tables a migration
        # rebuilt (signals, frame_sets: their DDL has it), so each shows as removed and added
        def same(op: Any) -> tuple[str, tuple[str, ...], str]:
            fk = op[1]
            return fk.table.name, tuple(c.name for c in fk.columns), fk.elements[0].target_fullname

        removed = {same(d) for d in diff if d[0] == "remove_fk"}
        added = {same(d) for d in diff if d[0] == "add_fk"}
        diff = [d for d in diff if d[0] not in ("remove_fk", "add_fk") or same(d) not in
                removed & added]  # fmt: skip
    assert diff == []


def test_reports_taken_in_before_cases_and_review_get_them_on_upgrade(store: Store) -> None:
    """A store of revision 0012 (reports, files and clusters, no cases) upgraded: every report
    in its user's case, clusters counting their reports, each cluster a review item."""
    import json
    from datetime import UTC, datetime

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from vigil.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
        conn.execute(text("INSERT INTO triage_clusters (id, created_at, pdq, files) "
                          "VALUES (1, :t, NULL, 2)"), {"t": now})  # fmt: skip
        for rid, user, priority in ((1, "u-1", 3), (2, "u-1", 2), (3, None, 4)):
            body = {"platform": "P", "users": [{"esp_id": user}] if user else []}
            conn.execute(
                text(
                    "INSERT INTO triage_reports (id, key, received_at, source, body, priority, "
                    "reasons) VALUES (:i, :k, :t, 's', :b, :p, '[]')"
                ),
                {"i": rid, "k": f"{rid:064x}", "t": now, "b": json.dumps(body), "p": priority},
            )
            conn.execute(text(
                "INSERT INTO triage_files (report_id, position, name, cluster_id, how, matches) "
                "VALUES (:r, 0, 'f', 1, 'new', '[]')"), {"r": rid})  # fmt: skip
        command.upgrade(cfg, "head")
        cases = conn.execute(text("SELECT key, reports, files, priority FROM triage_cases "
                                  "ORDER BY id")).all()  # fmt: skip
        assert [tuple(c) for c in cases] == [("P|u-1", 2, 2, 2), (None, 1, 1, 4)]
        assert conn.execute(text("SELECT reports FROM triage_clusters")).scalar() == 3
        item = conn.execute(text("SELECT priority, state FROM review_items")).one()
        assert tuple(item) == (2, "open")
