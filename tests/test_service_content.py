"""Content kept by a list rule: nothing is stored without one; with one, a matching upload is
sealed at rest, shown only to curators, audited on every view, and deleted when it expires."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tests.service_kit import PHOTOS, Server
from vigil.cli import main
from vigil.errors import NotFound, StoreError, UsageError
from vigil.service.actions import Actions
from vigil.service.locker import ContentLocker, load_key
from vigil.store import Store
from vigil.store.schema import kept_content

MATCH = [{"list": "known", "entry": "photo-0"}]


def _rows(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(kept_content)).all())


def test_a_list_rule_keeps_matching_uploads_sealed_and_audited(server: Server) -> None:
    known, other = (
        sorted((PHOTOS / d).glob("*.jpg"))[0].read_bytes() for d in ("known", "unrelated")
    )
    with server.client("match") as m, server.client("curator") as cur:
        plain = m.post("/v1/match", content=known).json()
        assert plain["matches"]
        assert plain["kept"] is None
        assert _rows(server.store) == []
        rule = {"outcome": "review", "keep_days": 7}
        assert cur.put("/v1/lists/known/action", json=rule).status_code == 200
        assert m.post("/v1/match", content=other).json()["kept"] is None  # no match
        answer = m.post("/v1/match", content=known).json()
        kept = answer["kept"]
        assert isinstance(kept, int)
        assert {x["kept"] for x in answer["matches"]} == {kept}  # webhook posts carry it too
        assert m.get(f"/v1/content/{kept}").status_code == 403  # match clients never see it
        [listed] = cur.get("/v1/content").json()["content"]
        assert (listed["id"], listed["lists"], listed["size"]) == (kept, ["known"], len(known))
        got = cur.get(f"/v1/content/{kept}")
        assert got.content == known
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["cache-control"] == "no-store"
        [row] = _rows(server.store)
        assert len(row.sealed) == len(known) + 16
        assert known[:256] not in row.sealed
        assert cur.delete(f"/v1/content/{kept}").status_code == 200
        assert cur.get(f"/v1/content/{kept}").status_code == 404
    with server.client("admin") as adm:
        audit = [
            (e["actor"], e["action"], e["target"]) for e in adm.get("/v1/audit").json()["entries"]
        ]
    assert ("curator-key", "content.view", str(kept)) in audit
    assert ("curator-key", "content.delete", str(kept)) in audit
    assert (server.store.home / "content.key").stat().st_mode & 0o777 == 0o600


def test_kept_content_expires_and_is_purged(store: Store) -> None:
    locker = ContentLocker(store)
    day = locker.keep(b"one", "a.jpg", MATCH, {"known": {"keep_days": 1.0}})
    gone = locker.keep(b"two", "b.jpg", MATCH, {"known": {"keep_days": 1e-12}})
    assert day is not None
    assert gone is not None
    with pytest.raises(NotFound):  # expired: refused before any purge
        locker.open(gone)
    assert [c["id"] for c in locker.listing()] == [day]
    assert locker.purge() == 1
    assert locker.open(day)[1] == b"one"
    assert locker.purge(datetime.now(UTC) + timedelta(days=2)) == 1
    assert _rows(store) == []


def test_the_longest_rule_of_the_matched_lists_sets_the_term() -> None:
    matches = [{"list": "a"}, {"list": "b"}, {"list": "c"}]
    rules = {"a": {"keep_days": 3.0}, "b": {"keep_days": 30.0}, "c": {"keep_days": None}}
    assert ContentLocker.keeping(matches, rules) == (["a", "b"], 30.0)
    assert ContentLocker.keeping(matches[2:], rules) == ([], 0.0)


def test_another_key_or_a_tampered_row_cannot_open_it(store: Store, tmp_path: Path) -> None:
    kept = ContentLocker(store).keep(b"secret", "a.jpg", MATCH, {"known": {"keep_days": 1.0}})
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    with pytest.raises(StoreError, match="sealed with key"):
        ContentLocker(store, other).open(kept or 0)
    with store.engine.begin() as conn:
        conn.execute(update(kept_content).values(sha256="0" * 64))  # rows swapped or edited
    with pytest.raises(StoreError, match="integrity"):
        ContentLocker(store).open(kept or 0)


def test_bad_key_files_and_terms_are_refused_by_name(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "short.key"
    bad.write_text("abcd")
    with pytest.raises(UsageError, match=r"short\.key"):
        ContentLocker(store, bad).keep(b"x", "a", MATCH, {"known": {"keep_days": 1.0}})
    with pytest.raises(UsageError, match="cannot read"):  # a given key file is never created
        ContentLocker(store, tmp_path / "missing.key").keep(
            b"x", "a", MATCH, {"known": {"keep_days": 1.0}}
        )
    store.create_list("known")
    for days in (0.0, -1.0, 1000.0):
        with pytest.raises(UsageError, match="keep_days"):
            Actions(store).set("known", "review", None, None, days)


def test_the_cli_purges_expired_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(tmp_path / "home")
    locker = ContentLocker(store)
    locker.keep(b"old", "a.jpg", MATCH, {"known": {"keep_days": 1e-12}})
    locker.keep(b"new", "b.jpg", MATCH, {"known": {"keep_days": 1.0}})
    with pytest.raises(SystemExit) as done:
        main(["--home", str(store.home), "content", "purge", "--json"])
    assert done.value.code in (0, None)
    assert json.loads(capsys.readouterr().out) == {"deleted": 1}
    assert [r.name for r in _rows(store)] == ["b.jpg"]  # type: ignore[attr-defined]
    store.close()


def test_workers_creating_the_key_at_once_agree_on_one(tmp_path: Path) -> None:
    path = tmp_path / "content.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_key(path, create=True), range(16)))
    assert len(keys) == 1
    assert path.read_text().strip() == keys.pop().hex()
    assert [p.name for p in tmp_path.iterdir()] == ["content.key"]  # no temporary files left


def test_a_service_purges_on_a_thread_of_its_own(store: Store) -> None:
    locker = ContentLocker(store)
    locker.keep(b"old", "a.jpg", MATCH, {"known": {"keep_days": 1e-12}})
    locker.start()  # purges at once, then every minute
    locker.stop()
    assert _rows(store) == []


def test_a_database_failure_is_a_503_the_client_can_retry(server: Server) -> None:
    known = sorted((PHOTOS / "known").glob("*.jpg"))[0].read_bytes()
    with server.client("curator") as cur:
        assert (
            cur.put(
                "/v1/lists/known/action", json={"outcome": "review", "keep_days": 1}
            ).status_code
            == 200
        )
    with server.store.engine.begin() as conn:  # the write the upload needs now fails
        conn.execute(text("ALTER TABLE kept_content RENAME TO kept_content_away"))
    with server.client("match") as m:
        failed = m.post("/v1/match", content=known)
        assert failed.status_code == 503
        assert failed.json()["error"]["type"] == "StoreError"
        assert "kept_content" not in failed.text  # no SQL in the answer
        with server.store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE kept_content_away RENAME TO kept_content"))
        assert isinstance(m.post("/v1/match", content=known).json()["kept"], int)  # the retry


def test_a_view_with_the_key_gone_never_makes_a_new_key(store: Store) -> None:
    kept = ContentLocker(store).keep(b"secret", "a.jpg", MATCH, {"known": {"keep_days": 1.0}})
    (store.home / "content.key").unlink()  # crypto-shredded
    with pytest.raises(UsageError, match=r"content\.key"):
        ContentLocker(store).open(kept or 0)
    assert not (store.home / "content.key").exists()
