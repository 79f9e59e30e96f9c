"""Dataset audits (issue 22), on small datasets made here from the committed benign photos in
every form a training set takes: webdataset tar shards (with a corrupt image and img2dataset's
JSON), parquet with image bytes (plain and as Hugging Face writes them), parquet of metadata
only (matched by its MD5 column, nothing downloaded) and a folder tree. Known photos, a
reduced copy and a cropped copy are planted; every one is found, the unrelated photos are not,
and a run killed after a shard redoes only the rest."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vigil.audit import Run, finish, shards_of
from vigil.lists import Entry
from vigil.matching.hashing import hash_file
from vigil.matching.match import Matcher
from vigil.store import Store

pa = pytest.importorskip("pyarrow", reason="audits write parquet (the audit extra)")
import pyarrow.parquet as pq  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[1] / "examples" / "photos"
KNOWN = sorted((PHOTOS / "known").glob("*.jpg"))
OTHER = sorted((PHOTOS / "unrelated").glob("*.jpg"))


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def _planted() -> dict[str, bytes]:
    """Sample key -> image: two known photos as they are, a reduced and a cropped copy of a
    third, and three unrelated photos."""
    with Image.open(KNOWN[2]) as im:
        small = _jpeg(im.resize((im.width // 2, im.height // 2)))
        cropped = _jpeg(im.crop((im.width // 5, 0, im.width, im.height)))
    return {"000000": KNOWN[0].read_bytes(), "000001": KNOWN[1].read_bytes(),
            "000002": small, "000003": cropped, "000004": OTHER[0].read_bytes(),
            "000005": OTHER[1].read_bytes(), "000006": OTHER[2].read_bytes()}  # fmt: skip


def known_store(home: Path) -> Store:
    """A store whose list "known" holds three of the committed photos, every signal."""
    s = Store.open(home)
    s.create_list("known")
    entries = []
    for n, photo in enumerate(KNOWN[:3]):
        res = hash_file(photo)
        entries.append(Entry(f"k{n}", [(t, v.value) for t, v in res.signals.items()]))
    s.apply("known", entries)
    return s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = known_store(tmp_path / "home")
    yield s
    s.close()


def _tar(path: Path, samples: dict[str, bytes], corrupt: bool = False) -> None:
    with tarfile.open(path, "w") as tar:
        for key, data in samples.items():
            meta = json.dumps({"url": f"https://images.example/{key}.jpg", "key": key}).encode()
            for name, body in ((f"{key}.jpg", data), (f"{key}.json", meta)):
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
        if corrupt:
            info = tarfile.TarInfo("999999.jpg")
            body = KNOWN[0].read_bytes()[:500]
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def _hits(out: Path) -> dict[str, dict[str, str]]:
    with (out / "removal.csv").open() as fh:
        return {row["key"]: row for row in csv.DictReader(fh)}


def test_tar_shards_are_audited_and_a_killed_run_redoes_only_the_rest(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "shards"
    data.mkdir()
    samples = _planted()
    keys = list(samples)
    _tar(data / "00000.tar", {k: samples[k] for k in keys[:4]}, corrupt=True)
    _tar(data / "00001.tar", {k: samples[k] for k in keys[4:]})
    shards = shards_of(data)
    assert [s.id for s in shards] == ["00000.tar", "00001.tar"]
    out = tmp_path / "audit"
    first = Run(Matcher(store, ["known"]), out, workers=2).shards(shards[:1])  # then killed
    assert (first.shards_done, first.samples, first.errors) == (1, 5, 1)
    again = Run(Matcher(store, ["known"]), out, workers=2).shards(shards)
    assert (again.shards_skipped, again.shards_done, again.samples) == (1, 1, 3)
    summary = finish(out)
    assert summary["counts"] == {"match": 4, "ok": 3, "error": 1}
    hits = _hits(out)
    assert sorted(hits) == keys[:4]  # every planted copy, nothing else
    assert hits["000000"]["url"] == "https://images.example/000000.jpg"
    assert hits["000003"]["kinds"] == "altered_copy"
    rows = {r["key"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert len(rows) == 8  # the unreadable image is a row with its reason
    assert "999999" in rows
    assert rows["999999"]["status"] == "error"
    assert rows["000004"]["evidence"] is not None
    assert "Hits per kind" in (out / "report.html").read_text()


def test_parquet_with_bytes_and_parquet_of_metadata_only(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "parquet"
    data.mkdir()
    samples = _planted()
    plain = {
        "key": list(samples),
        "url": [f"u/{k}" for k in samples],
        "jpg": list(samples.values()),
    }
    pq.write_table(pa.table(plain), data / "a.parquet")
    hf = {"image": [{"bytes": b, "path": f"{k}.jpg"} for k, b in samples.items()]}
    pq.write_table(pa.table(hf), data / "b.parquet")
    md5 = hash_file(KNOWN[0], ["md5"]).signals["md5"].value
    meta = {"url": ["https://x.example/1", "https://x.example/2"], "caption": ["a", "b"],
            "md5": [md5.upper(), "0" * 32]}  # fmt: skip
    pq.write_table(pa.table(meta), data / "c.parquet")
    out = tmp_path / "audit"
    Run(Matcher(store, ["known"]), out, workers=2, robust=False, evidence=False).shards(
        shards_of(data)
    )
    finish(out)
    hits = _hits(out)
    assert sorted(k for k in hits if not k.startswith("b.parquet")) == [
        "000000", "000001", "000002", "c.parquet:0"]  # fmt: skip
    assert sorted(k for k in hits if k.startswith("b.parquet")) == [
        "b.parquet:0", "b.parquet:1", "b.parquet:2"]  # fmt: skip
    assert hits["c.parquet:0"]["url"] == "https://x.example/1"  # matched by its MD5 alone
    rows = {r["key"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert rows["c.parquet:1"]["status"] == "no_image"


def test_a_folder_tree_and_the_neighbours_of_hits(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "folder"
    for n, (key, body) in enumerate(_planted().items()):
        where = data / f"part-{n % 2}"
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{key}.jpg").write_bytes(body)
    with Image.open(KNOWN[0]) as im:  # a lighter copy of a hit the list does not hold
        (data / "part-0" / "lighter.png").write_bytes(_png(im.point(lambda v: min(255, v + 12))))
    out = tmp_path / "audit"
    store.create_list("md5-only")  # a list of file digests alone, as many hotlines send
    md5 = hash_file(KNOWN[0], ["md5"]).signals["md5"].value
    store.apply("md5-only", [Entry("m0", [("md5", md5)])])
    Run(Matcher(store, ["md5-only"]), out, workers=2, robust=False).shards(shards_of(data))
    summary = finish(out)
    assert summary["hits"] == 1
    with (out / "neighbours.csv").open() as fh:
        near = {row["key"]: row for row in csv.DictReader(fh)}
    assert near.keys() == {"part-0/lighter.png"}  # a suspect to review, not a hit
    assert near["part-0/lighter.png"]["near_hit"] == "part-0/000000.jpg"


def _png(img: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_the_command_says_what_it_found_and_exits_7_for_unreadable_samples(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.cli import main

    store.close()
    data = tmp_path / "shards"
    data.mkdir()
    samples = _planted()
    _tar(data / "00000.tar", {k: samples[k] for k in list(samples)[:2]}, corrupt=True)
    out = tmp_path / "audit"
    argv = ["--home", str(tmp_path / "home"), "audit", str(data), "--list", "known",
            "--out", str(out), "--no-robust", "--workers", "1", "--json"]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 7
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["hits"], summary["counts"]["error"], summary["shards_skipped"]) == (2, 1, 0)
    with pytest.raises(SystemExit):
        main(argv)  # run again: nothing redone
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["shards_skipped"], again["samples_this_run"], again["hits"]) == (1, 0, 2)
