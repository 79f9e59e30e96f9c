"""Hostile input, made by the tests: each case is a clear error naming the input, within its
budget, and a good file beside it is still matched (issue: no hostile file may stop matching,
kill a scan, or leave content where it should not be)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests import hostile
from tests.conftest import PHOTOS
from vigil.cli import main
from vigil.errors import CorruptMedia, OverBudget
from vigil.evidence import inspect_file
from vigil.lists import Entry
from vigil.matching.hashing import hash_file
from vigil.matching.match import Matcher
from vigil.matching.scan import scan
from vigil.sandbox import Budget, Sandbox
from vigil.store import Store

QUICK = Budget(cpu_seconds=0.5, memory=256 * 2**20, wall_seconds=5)


def spin() -> None:
    while True:
        pass


def hog() -> bytes:
    return bytes(2**30)


def block(path: str) -> bytes:
    with open(path, "rb") as fh:  # a FIFO nobody writes to
        return fh.read()


def crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def fail(source: str) -> None:
    raise CorruptMedia(source, "made up")


def double(x: int) -> int:
    return 2 * x


def test_the_sandbox_stops_cpu_memory_time_and_crashes_and_goes_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reasons = {
        spin: "CPU budget of 0.5 s",
        hog: "memory budget of 256 MiB",
        crash: "died (SIGSEGV)",
    }
    with Sandbox(1, QUICK) as sandbox:
        for fn, reason in reasons.items():
            t0 = time.monotonic()
            with pytest.raises(OverBudget, match=re.escape(reason)) as caught:
                sandbox.run(fn, source=f"case-{fn.__name__}")
            assert caught.value.source == f"case-{fn.__name__}"
            assert time.monotonic() - t0 < QUICK.deadline
            assert sandbox.run(double, 21, source="good") == 42  # a new worker took over
        with pytest.raises(OverBudget, match="5 s by the clock"):
            sandbox.run(block, str(fifo), source="fifo")
        with pytest.raises(CorruptMedia) as err:  # our errors cross with their class and parts
            sandbox.run(fail, "x.jpg", source="x.jpg")
        assert (err.value.source, err.value.reason) == ("x.jpg", "made up")
        assert sandbox.replaced == 4
        results = list(sandbox.imap(double, range(20), str))
    assert results == [(n, 2 * n) for n in range(20)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two known photos beside every kind of hostile file and path."""
    root = tmp_path / "tree"
    root.mkdir()
    for photo in sorted((PHOTOS / "known").glob("*.jpg"))[:2]:
        shutil.copy(photo, root / photo.name)
    files = {
        "scans-20000.jpg": hostile.many_scan_jpeg(64, 20_000),
        "scans-costly.jpg": hostile.many_scan_jpeg(4096, 250),  # under the scan limit: budget
        "bomb.png": hostile.png_bomb(),
        "bomb.gif": hostile.gif_bomb(),
        "bomb.tiff": hostile.tiff_bomb(),
        "bomb.bmp": hostile.bmp_bomb(),
        "bomb.webp": hostile.webp_bomb(),
        "arith.jpg": hostile.arithmetic_jpeg(
            next((PHOTOS / "unrelated").glob("*.jpg")).read_bytes()
        ),
        "empty.jpg": b"",
        "garbage.jpg": os.urandom(4096),
        "truncated.jpg": (PHOTOS / "unrelated").glob("*.jpg").__next__().read_bytes()[:900],
        "dims.safetensors": hostile.safetensors([[1] * 150_000]),
        "huge.safetensors": hostile.safetensors([[10**18] * 60, [3, 3]]),
    }
    for name, data in files.items():
        hostile.write(root, name, data)
    os.mkfifo(root / "fifo.jpg")
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "mem.jpg").symlink_to("/proc/self/mem")  # a regular file whose read fails (EIO)
    (root / "again.jpg").symlink_to(root / "bomb.png")
    (root / "loop").mkdir()
    (root / "loop" / "up").symlink_to(root)
    return root


def test_a_scan_of_hostile_files_finishes_with_a_row_for_every_path(
    tree: Path, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "home")
    store.create_list("known")
    for photo in sorted(tree.glob("0*.jpg")):
        res = hash_file(photo)
        store.apply("known", [Entry(photo.name, [(s.type, s.value) for s in res.signals.values()])])
    report = tmp_path / "scan.jsonl"
    summary = scan(tree, Matcher(store), report, workers=2, budget=QUICK, follow_links=True)
    rows = {Path(r["path"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert len(rows) == 20
    assert summary.files == 20
    assert {rows[n]["status"] for n in rows if n.startswith("0")} == {"match"}
    expected = {
        "scans-20000.jpg": "20,000 scans",
        "scans-costly.jpg": "CPU budget",
        "bomb.png": "decompression bomb",
        "bomb.gif": "decompression bomb",
        "bomb.tiff": "decompression bomb",
        "bomb.bmp": "decompression bomb",
        "bomb.webp": "decompression bomb",
        "empty.jpg": "empty",
        "garbage.jpg": "no known media type",
        "truncated.jpg": "jpeg",
        "fifo.jpg": "FIFO",
        "zero.jpg": "character device",
        "mem.jpg": "Input/output error",
        "again.jpg": "read at its own path",
        "up": "read at its own path",
    }
    for name, reason in expected.items():
        assert reason in rows[name]["error"]["reason"], (name, rows[name])
        assert rows[name]["status"] in ("error", "skipped")
    assert rows["arith.jpg"]["status"] in ("error", "no_match")  # a row, whatever libjpeg made
    for name in ("dims.safetensors", "huge.safetensors"):
        errors = [e for e in rows[name]["evidence"]["evidence"] if e["claim"] == "error"]
        assert any("impossible shapes" in e["value"] for e in errors), rows[name]
    again = scan(tree, Matcher(store), report, workers=2, budget=QUICK, follow_links=True)
    assert again.skipped_done == 20
    assert again.files == 0
    store.close()


def test_cli_commands_answer_hostile_paths_at_once(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(tree / n) for n in ("fifo.jpg", "zero.jpg", "empty.jpg", "scans-20000.jpg")]
    good = str(next(tree.glob("0*.jpg")))
    for command in ("hash", "inspect"):
        with pytest.raises(SystemExit) as code:
            main([command, *paths, good, "--json"])
        assert code.value.code == 7, command  # some files failed, each reported
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(rows) == 5
        if command == "hash":
            assert [bool(r.get("error")) for r in rows] == [True] * 4 + [False]
            assert "md5" in rows[3]["signals"]  # a bomb still has its file digests
        else:
            unreadable = [any(e["source"] in ("file", "image data") for e in r["evidence"])
                          for r in rows]  # fmt: skip
            assert unreadable == [True] * 4 + [False]


def test_a_model_header_of_150000_dimensions_is_read_within_its_budget(tmp_path: Path) -> None:
    path = hostile.write(tmp_path, "m.safetensors", hostile.safetensors([[2] * 150_000]))
    with Sandbox(1, Budget(cpu_seconds=1.0)) as sandbox:
        report = sandbox.run(inspect_file, str(path), source=str(path))
    json.dumps(report.as_dict())  # every value can be written out
    assert any("impossible shapes" in str(e.value) for e in report.errors)


def test_a_folder_given_to_hash_keeps_its_fifo_as_a_row_and_a_linked_root_is_walked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.media.files import walk

    folder = tmp_path / "f"
    folder.mkdir()
    photo = shutil.copy(next((PHOTOS / "known").glob("*.jpg")), folder / "p.jpg")
    os.mkfifo(folder / "q.jpg")
    (folder / "r.jpg").symlink_to(photo)  # inside the tree: p.jpg's own row is enough
    with pytest.raises(SystemExit) as code:
        main(["hash", str(folder), "--json"])
    assert code.value.code == 7
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(Path(r["path"]).name, (r.get("error") or {}).get("type")) for r in rows] == [
        ("p.jpg", None), ("q.jpg", "NotRegularFile")]  # fmt: skip
    (tmp_path / "link").symlink_to(folder)  # a root named by the user is what it names
    assert sorted(f.path.name for f in walk(tmp_path / "link")) == ["p.jpg", "q.jpg", "r.jpg"]
