"""List formats: a contract over the registry, plus each format's interop details."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from vigil.errors import UnknownFormat
from vigil.lists import Entry, ListFormat, Removal, RowProblem, detect, formats
from vigil.signals.pdq import EXAMPLE_PDQ

ALL = list(formats)


def _read(fmt: str | type[ListFormat], data: bytes, **options: str) -> list[object]:
    cls = formats.get(fmt) if isinstance(fmt, str) else fmt
    return list(cls.read(io.BytesIO(data), "test-file", **options))


def test_all_formats_registered() -> None:
    assert {"vics", "te-csv", "te-lines", "stopncii", "ncmec", "icse"} <= set(formats.names())
    with pytest.raises(UnknownFormat):
        formats.get("nope")


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_example_reads_cleanly_and_is_detected(cls: type[ListFormat]) -> None:
    records = _read(cls, cls.example())
    assert not [r for r in records if isinstance(r, RowProblem)]
    assert len([r for r in records if isinstance(r, Entry)]) >= 2
    if cls.name != "te-lines":  # bare lines have no signature to sniff
        assert detect(cls.example()[:4096]) == cls.name


@pytest.mark.parametrize("cls", [c for c in ALL if c.can_write], ids=lambda c: c.name)
def test_write_then_read_round_trips(cls: type[ListFormat]) -> None:
    entries = [r for r in _read(cls, cls.example()) if isinstance(r, Entry)]
    out = io.BytesIO()
    result = cls.write(entries, out)
    assert result.written == len(entries)
    assert not result.skipped
    back = [r for r in _read(cls, out.getvalue()) if isinstance(r, Entry)]
    assert [e.digest() for e in back] == [e.digest() for e in entries]


def test_vics_bom_string_booleans_uppercase_and_pdq() -> None:
    entries = [r for r in _read("vics", formats.get("vics").example()) if isinstance(r, Entry)]
    first, second = entries
    assert first.key == "md5:d41d8cd98f00b204e9800998ecf8427e"
    assert first.victim_identified is True
    assert first.extra["IsPrecategorized"] == "false"
    assert first.signal("sha1") == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert second.signal("pdq") == EXAMPLE_PDQ[0]
    assert second.tags == ["kodak", "sample"]
    assert second.category == 1


def test_vics_1x_and_cases_files() -> None:
    v1 = {
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media",
        "value": [{"MD5": "900150983cd24fb0d6963f7d28e17f72", "MediaID": 1, "Category": "2"}],
    }
    (entry,) = _read("vics", json.dumps(v1).encode())
    assert isinstance(entry, Entry)
    assert entry.category == 2
    cases = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/"
        "US/$metadata#Cases",
        "value": [
            {
                "CaseID": "c1",
                "Media": [
                    {"MD5": "900150983cd24fb0d6963f7d28e17f72", "MediaID": 1},
                    {"MD5": "d41d8cd98f00b204e9800998ecf8427e", "MediaID": 2},
                ],
            }
        ],
    }
    assert len(_read("vics", json.dumps(cases).encode())) == 2


def test_bad_rows_are_reported_with_position_and_the_rest_imported() -> None:
    data = (
        b"signal_type,signal_str,collab,category,tags\n"
        b"pdq," + EXAMPLE_PDQ[0].encode() + b",c,1,\n"
        b"pdq,0000000000000000000000000000000000000000000000000000000000000000,c,1,\n"
        b"pdq,xyz,c,1,\n"
        b"unknown_type,abc,c,1,\n"
        b"md5\n"
        b"md5,900150983cd24fb0d6963f7d28e17f72,c,,\n"
    )
    records = _read("te-csv", data)
    problems = [r for r in records if isinstance(r, RowProblem)]
    assert [p.where for p in problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "degenerate" in problems[0].reason
    assert "64 hex digits" in problems[1].reason
    assert "unknown signal type" in problems[2].reason
    assert len([r for r in records if isinstance(r, Entry)]) == 2


def test_te_lines_bare_values_and_type_option() -> None:
    sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    (unknown,) = _read("te-lines", f"{EXAMPLE_PDQ[1]}\n".encode())  # PDQ or SHA-256?
    assert isinstance(unknown, RowProblem)
    assert "--signal-type" in unknown.reason
    (as_pdq,) = _read("te-lines", f"{EXAMPLE_PDQ[1]}\n".encode(), signal_type="pdq")
    assert isinstance(as_pdq, Entry)
    assert as_pdq.signals == [("pdq", EXAMPLE_PDQ[1])]
    (as_sha,) = _read("te-lines", f"{sha256}\n".encode(), signal_type="sha256")
    assert isinstance(as_sha, Entry)
    assert as_sha.signals == [("sha256", sha256)]


def test_stopncii_withdrawn_and_deleted_remove() -> None:
    records = _read("stopncii", formats.get("stopncii").example())
    removals = [r for r in records if isinstance(r, Removal)]
    assert len(removals) == 1
    assert "Withdrawn" in removals[0].reason
    doc = {
        "hashRecords": [
            {"signalType": "ImagePDQ", "hashValue": EXAMPLE_PDQ[0], "hashStatus": "Deleted"},
            {"signalType": "VideoTMK", "hashValue": "ab"},
        ]
    }
    removal, problem = _read("stopncii", json.dumps(doc).encode())
    assert isinstance(removal, Removal)
    assert isinstance(problem, RowProblem)
    assert "VideoTMK" in problem.reason


def test_ncmec_tombstones_videos_and_broken_xml() -> None:
    records = _read("ncmec", formats.get("ncmec").example())
    kinds = [type(r).__name__ for r in records]
    assert kinds == ["Entry", "Removal", "Entry"]
    video = records[2]
    assert isinstance(video, Entry)
    assert video.extra["media_type"] == "video"
    assert video.key == "ncmec:7:55"
    broken = formats.get("ncmec").example()[:400]
    tail = _read("ncmec", broken)[-1]
    assert isinstance(tail, RowProblem)
    assert "well-formed" in tail.reason


def test_icse_reads_and_is_import_only() -> None:
    records = _read("icse", formats.get("icse").example())
    first = records[0]
    assert isinstance(first, Entry)
    assert first.key == "icse:1234"
    assert first.series == "benign-series"
    assert first.victim_identified is False
    assert first.extra["Is distributed"] == "true"
    assert not formats.get("icse").can_write


def test_te_lines_are_detected_and_keep_values_with_spaces() -> None:
    from vigil.lists import detect
    from vigil.signals.video import _EXAMPLE_VPDQ

    local = f"pdq {EXAMPLE_PDQ[0]}\nmd5 900150983cd24fb0d6963f7d28e17f72\n".encode()
    assert detect(local) == "te-lines"  # python-threatexchange's local file
    assert detect(f"{EXAMPLE_PDQ[0]}\n".encode()) is None  # bare 64 hex: ask for --format
    vpdq = _EXAMPLE_VPDQ
    (entry,) = _read("te-lines", f"vpdq {vpdq}\n".encode())
    assert isinstance(entry, Entry), entry
    assert entry.signals[0][0] == "vpdq"


def test_icse_flags_t_f_and_headers_in_any_case() -> None:
    data = (
        b"md5;sha1;photodna;IMAGE ID;is distributed;Victim Identified;offender identified;"
        b"series name;number of submissions;file available;media type;baseline\n"
        b"900150983CD24FB0D6963F7D28E17F72;;;7;T;T;F;s;1;F;Image;F\n"
        b"D41D8CD98F00B204E9800998ECF8427E;;;8;f;f;t;;1;t;Image;t\n"
    )
    from vigil.lists import detect

    assert detect(data) == "icse"
    records = _read("icse", data)
    assert [r.victim_identified for r in records if isinstance(r, Entry)] == [True, False]
    assert [r.key for r in records if isinstance(r, Entry)] == ["icse:7", "icse:8"]


def test_vics_from_other_tools_sha1_only_cases_and_utf16() -> None:
    from vigil.lists import detect

    media = [{"MediaID": n, "SHA1": f"{n:040x}", "Category": 1} for n in range(1, 4)]
    media += [{"MediaID": n, "MD5": f"{n:032x}"} for n in range(4, 7)]
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    case = {"@odata.context": context, "value": [{"CaseID": "c", "Media": media}]}
    records = _read("vics", json.dumps(case).encode())  # a case, though the context says Media
    keys = [r.key for r in records if isinstance(r, Entry)]
    assert keys == [f"sha1:{n:040x}" for n in range(1, 4)] + [f"md5:{n:032x}" for n in range(4, 7)]
    utf16 = json.dumps({"odata.metadata": "x#Media", "value": media}).encode("utf-16")
    assert utf16.startswith(b"\xff\xfe")
    assert detect(utf16) == "vics"
    assert len([r for r in _read("vics", utf16) if isinstance(r, Entry)]) == 6


def test_video_md5_keeps_its_name_and_matches_md5_both_ways(tmp_path: object) -> None:
    from pathlib import Path

    from vigil.matching.match import Matcher
    from vigil.store import Store

    md5 = "900150983cd24fb0d6963f7d28e17f72"
    csv_in = f"signal_type,signal_str,collab,category,tags\nvideo_md5,{md5},c,,\n".encode()
    (entry,) = _read("te-csv", csv_in)
    assert isinstance(entry, Entry)
    assert entry.signals == [("video_md5", md5)]
    store = Store.open(Path(str(tmp_path)) / "h")
    store.create_list("pytx")
    store.apply("pytx", [entry])
    store.create_list("own")
    store.apply("own", [Entry("e", [("md5", "d41d8cd98f00b204e9800998ecf8427e")])])
    matcher = Matcher(store)
    assert [m.list for m in matcher.match_value("md5", md5)] == ["pytx"]
    assert [m.list for m in matcher.match_value("video_md5", md5)] == ["pytx"]
    assert [m.list for m in matcher.match_value("video_md5", "d41d8cd98f00b204e9800998ecf8427e")
            ] == ["own"]  # fmt: skip
    out = io.BytesIO()
    formats.get("te-csv").write(store.iter_entries("pytx"), out)
    assert f"video_md5,{md5}" in out.getvalue().decode()
    store.close()


def test_video_sha256_is_a_signal_type() -> None:
    sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    (entry,) = _read("te-lines", f"video_sha256 {sha}\n".encode())
    assert isinstance(entry, Entry)
    assert entry.signals == [("video_sha256", sha)]


_VPDQ = (
    '["26649597f9d8797896876664d0a799987978868726656664d99b797886872667,100,0.000", '
    '"a8add7f267d2694ee80d4552790f794ee80d17d2961b1730baad06f082f3e847,100,1.000"]'
)
RICH = [
    Entry("photo-1", [("md5", "900150983cd24fb0d6963f7d28e17f72"),
                      ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
                      ("pdq", EXAMPLE_PDQ[0])],
          category=1, series="benign-series", victim_identified=True, source="demo",
          tags=["a", "b"], comments="a note", extra={"MediaSize": 3, "nested": {"x": [1]}}),
    Entry("ncmec:42:1001", [("md5", "d41d8cd98f00b204e9800998ecf8427e"), ("pdq", EXAMPLE_PDQ[1])],
          category=2, extra={"media_type": "image", "member": "Example ESP",
                             "timestamp": "2024-01-02T03:04:05Z", "classification": "A1"}),
    Entry("video-1", [("md5", "e2fc714c4727ee9395f324cd2e7f331f"),
                      ("video_md5", "e2fc714c4727ee9395f324cd2e7f331f"),
                      ("sha256", "ba7816bf8f01cfea414140de5dae2223"
                                 "b00361a396177a9cb410ff61f20015ad"),
                      ("vpdq", _VPDQ)], category=3, source="demo"),
    Entry("md5-only", [("md5", "0cc175b9c0f1b6a831c399e269772661")], tags=["t"]),
]  # fmt: skip


@pytest.mark.parametrize("cls", [c for c in ALL if c.can_write], ids=lambda c: c.name)
def test_every_entry_a_format_writes_comes_back_the_same(cls: type[ListFormat]) -> None:
    """Issue 17: a round trip gave 30 entries for 6 (one a signal) and lost metadata."""
    out = io.BytesIO()
    result = cls.write(RICH, out)
    skipped = {key for key, _ in result.skipped}
    assert result.written == len(RICH) - len(skipped) > 0
    back = [r for r in _read(cls, out.getvalue()) if not isinstance(r, RowProblem)]
    assert all(isinstance(e, Entry) for e in back)
    expected = [e for e in RICH if e.key not in skipped]
    assert [(e.key, e.digest()) for e in back] == [(e.key, e.digest()) for e in expected]  # type: ignore[union-attr]


def test_te_csv_rows_are_pytx_signals_and_an_entry_without_one_is_skipped() -> None:
    out = io.BytesIO()
    result = formats.get("te-csv").write(RICH, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))  # as a pytx user reads it
    assert {r["signal_type"] for r in rows} == {"pdq", "video_md5", "vpdq"}
    assert [r["entry"] for r in rows] == ["photo-1", "ncmec:42:1001", "video-1", "video-1"]
    assert result.skipped == [("md5-only", result.skipped[0][1])]
    assert "pytx" in result.skipped[0][1]


def test_te_csv_from_pytx_each_row_its_own_entry_any_column_order() -> None:
    data = (
        "tags,signal_str,signal_type,category,collab\n"
        f"x y,{EXAMPLE_PDQ[0]},pdq,POSITIVE_CLASS,Sample Data\n"
        "z,D41D8CD98F00B204E9800998ECF8427E,video_md5,POSITIVE_CLASS,Sample Data\n"
    ).encode()
    first, second = _read("te-csv", data)
    assert isinstance(first, Entry)
    assert isinstance(second, Entry)
    assert first.key == f"pdq:{EXAMPLE_PDQ[0]}"
    assert first.tags == ["x", "y"]
    assert first.source == "Sample Data"
    assert first.extra["category"] == "POSITIVE_CLASS"
    assert second.signals == [("video_md5", "d41d8cd98f00b204e9800998ecf8427e")]


def test_a_named_category_takes_the_number_the_lists_labels_give_it(tmp_path: Path) -> None:
    from vigil.store import Store

    store = Store.open(tmp_path)
    store.create_list("ncmec", category_labels={"1": "A1", "2": "A2", "3": "positive_class"})
    store.apply("ncmec", _read("ncmec", formats.get("ncmec").example()))  # type: ignore[arg-type]
    store.apply(
        "ncmec",
        _read(
            "te-csv",
            (  # type: ignore[arg-type]
                f"signal_type,signal_str,collab,category,tags\npdq,{EXAMPLE_PDQ[1]},c,POSITIVE_CLASS,\n"
            ).encode(),
        ),
    )
    by_key = {e.key: e for e in store.iter_entries("ncmec")}
    assert by_key["ncmec:42:1001"].category == 1  # classification A1
    assert by_key["ncmec:42:1001"].extra["classification"] == "A1"  # kept for export
    assert by_key[f"pdq:{EXAMPLE_PDQ[1]}"].category == 3
    store.close()
