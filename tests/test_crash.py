"""A process killed in the middle of an import leaves a consistent store that a re-import
completes: whole batches or nothing, no duplicates, the index in step with the entries."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from vigil.matching.match import Matcher
from vigil.store import Store
from vigil.store.schema import changes, entries, signals

N = 50_000


def _list_file(path: Path) -> None:
    rng = np.random.default_rng(4)
    bits = rng.random((N, 256)) < 0.5
    rows = np.packbits(bits, axis=1)
    path.write_text("".join(f"pdq {r.tobytes().hex()}\n" for r in rows))


def _import_and_die(home: Path, list_file: Path, die_after: int) -> int:
    script = textwrap.dedent(f"""
        import os
        from vigil.lists import formats
        from vigil.store import Store
        store = Store.open({str(home)!r})
        if {die_after} and not any(i.name == "feed" for i in store.all_lists()):
            store.create_list("feed")
        def records():
            with open({str(list_file)!r}, "rb") as fh:
                for n, rec in enumerate(formats.get("te-lines").read(fh, "feed.txt")):
                    if {die_after} and n == {die_after}:
                        os._exit(9)  # killed: no rollback, no cleanup
                    yield rec
        store.apply("feed", records(), batch_size=20_000)
    """)
    return subprocess.run([sys.executable, "-c", script], check=False).returncode


def _counts(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in (entries, signals, changes)
        )


def test_killed_import_leaves_whole_batches_and_reimport_completes(tmp_path: Path) -> None:
    home, feed = tmp_path / "home", tmp_path / "feed.txt"
    _list_file(feed)
    assert _import_and_die(home, feed, die_after=30_000) == 9
    store = Store.open(home)
    n_entries, n_signals, n_changes = _counts(store)
    assert n_entries == 20_000  # the first batch committed, the second vanished whole
    assert n_signals == n_entries == n_changes
    store.close()

    assert _import_and_die(home, feed, die_after=0) == 0
    store = Store.open(home)
    assert _counts(store) == (N, N, N)
    index = store.index("pdq")
    assert len(index) == N
    last = feed.read_text().splitlines()[-1].split()[1]
    assert [m.entry.key for m in Matcher(store).match_value("pdq", last)] == [f"pdq:{last}"]
    store.close()
