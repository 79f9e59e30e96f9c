"""The `vigil` command line, through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from vigil.cli import app, main
from vigil.signals.pdq import EXAMPLE_PDQ


class Cli:
    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.capsys = home, capsys

    def __call__(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        try:
            main(["--home", str(self.home), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, self.capsys.readouterr().out

    def json_lines(self, *args: str) -> tuple[int, list[dict[str, object]]]:
        code, out = self(*args)
        return code, [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)


@pytest.fixture
def altered(tmp_path: Path, known_photos: list[Path]) -> Path:
    out = tmp_path / "queries"
    out.mkdir()
    img = Image.open(known_photos[0]).convert("RGB")
    img.resize((img.width // 2, img.height // 2)).save(out / "small.jpg", quality=70)
    ImageOps.mirror(img).save(out / "mirrored.png")
    (out / "notes.jpg").write_bytes(b"this is text, not a photo")
    return out


def test_list_add_then_match_exit_codes(
    cli: Cli, known_photos: list[Path], unrelated_photos: list[Path], altered: Path
) -> None:
    assert cli("list", "create", "known", "--label", "1=alert")[0] == 0
    code, (report,) = cli.json_lines(
        "list", "add", "known", *map(str, known_photos), "--category", "1", "--json"
    )
    assert code == 0
    assert report["added"] == len(known_photos)
    code, rows = cli.json_lines(
        "match", str(altered / "small.jpg"), str(altered / "mirrored.png"), "--json"
    )
    assert code == 0
    assert [r["matches"][0]["variant"] for r in rows] == ["original", "flip_h"]
    assert rows[0]["matches"][0]["category_label"] == "alert"
    assert cli("match", str(unrelated_photos[0]))[0] == 1
    assert cli("match", "--signal", "pdq:nothex")[0] == 3
    assert cli("match", "--signal", "pdq:" + EXAMPLE_PDQ[0])[0] == 1
    assert cli("match", str(altered / "small.jpg"), "--list", "nope")[0] == 4


def test_import_export_roundtrip_and_bad_rows(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "list.csv"
    src.write_text(
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{EXAMPLE_PDQ[0]},x,1,a\npdq,nothex,x,1,\n"
        "md5,900150983cd24fb0d6963f7d28e17f72,x,2,b c\n"
    )
    code, (rep,) = cli.json_lines("list", "import", "feed", str(src), "--create", "--json")
    assert code == 7  # finished, with a bad row
    assert (rep["added"], rep["problems"][0]["where"]) == (2, "line 3")
    code, (rep,) = cli.json_lines("list", "import", "feed", str(src), "--json")
    assert rep["added"] == 0
    assert rep["unchanged"] == 2
    out = tmp_path / "out.json"
    assert cli("list", "export", "feed", "--format", "vics", "-o", str(out))[0] == 0
    vics = json.loads(out.read_text())
    assert [m["MD5"] for m in vics["value"]] == ["900150983CD24FB0D6963F7D28E17F72"]
    code, rows = cli.json_lines("list", "show", "--json")
    assert rows[0][0]["entries"] == 2  # type: ignore[index]
    code, (gone,) = cli.json_lines(
        "list", "delete", "feed", "--entry", "md5:900150983cd24fb0d6963f7d28e17f72", "--json"
    )
    assert gone["removed_entries"] == 1
    assert cli("list", "delete", "feed")[0] == 2  # needs --yes
    assert cli("list", "delete", "feed", "--yes")[0] == 0
    assert cli("list", "show", "feed")[0] == 4


def test_hash_json_and_csv(cli: Cli, known_photos: list[Path], altered: Path) -> None:
    code, rows = cli.json_lines("hash", str(known_photos[0]), str(altered / "notes.jpg"), "--json")
    assert code == 7
    assert rows[0]["signals"]["pdq"]["quality"] == 100  # type: ignore[index]
    assert rows[1]["error"]["type"] == "UnsupportedMedia"  # type: ignore[index]
    code, out = cli("hash", str(known_photos[0]), "-s", "md5", "-s", "pdq", "--csv")
    header, row = out.strip().splitlines()
    assert header == "path,md5,pdq,pdq_quality,error"
    assert row.count(",") == 4
    assert cli("hash", str(known_photos[0]), "-s", "nope")[0] == 2


def test_scan_reports_every_file_and_resumes(
    cli: Cli, tmp_path: Path, known_photos: list[Path], unrelated_photos: list[Path], altered: Path
) -> None:
    cli("list", "create", "known")
    cli("list", "add", "known", *map(str, known_photos))
    for p in unrelated_photos[:3]:
        (altered / p.name).write_bytes(p.read_bytes())
    (altered / "empty.jpg").write_bytes(b"")
    report = tmp_path / "scan.jsonl"
    code, (summary,) = cli.json_lines(
        "scan", str(altered), "--report", str(report), "--workers", "2", "--json"
    )
    assert code == 7
    assert (summary["files"], summary["matched"], summary["errors"]) == (7, 2, 2)
    rows = [json.loads(x) for x in report.read_text().splitlines()]
    assert sorted(r["status"] for r in rows) == ["error"] * 2 + ["match"] * 2 + ["no_match"] * 3
    code, (again,) = cli.json_lines("scan", str(altered), "--report", str(report), "--json")
    assert (again["files"], again["resumed_past"]) == (0, 7)


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import typer.main

    click_group = typer.main.get_command(group)  # type: ignore[arg-type]
    found = []
    for name, cmd in click_group.commands.items():  # type: ignore[attr-defined]
        if hasattr(cmd, "commands"):
            found += [(*prefix, name, sub) for sub in cmd.commands]
        else:
            found.append((*prefix, name))
    return found


def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    commands = _commands(app)
    assert ("list", "import") in commands
    assert ("scan",) in commands
    for command in commands:
        code, out = cli(*command, "--help")
        assert code == 0, command
        assert "Example" in out, command
        if command not in {("list", "export"), ("case", "export"), ("serve",)}:  # write data
            assert "--json" in out, command


def test_match_explains_an_altered_copy(cli: Cli, known_photos: list[Path], tmp_path: Path) -> None:
    cli("list", "create", "known")
    cli("list", "add", "known", str(known_photos[0]))
    img = Image.open(known_photos[0]).convert("RGB")
    cropped = tmp_path / "cropped.jpg"
    img.crop((img.width // 5, 0, img.width, img.height * 4 // 5)).save(cropped)
    code, (row,) = cli.json_lines("match", str(cropped), "--json")
    assert code == 0
    (m,) = row["matches"]
    assert (m["kind"], m["signal_type"]) == ("altered_copy", "vlocal")
    assert m["robust"]["known_region"][0] >= 0.125  # the left fifth was cut away
    assert cli("match", str(cropped))[0] == 0  # the table (wrapped to the terminal) prints too
    assert cli("match", "--signal", "vlocal:00")[0] == 3  # not a valid record: a bad input


def test_help_answers_without_loading_the_engine() -> None:
    """`vigil --help` and a command's --help import neither the store nor numba nor OpenCV (they
    took over a second before a command could say what it does)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom vigil.cli import main\n"
        "for argv in (['--help'], ['scan', '--help'], ['list', 'import', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('numba', 'cv2', 'alembic', 'vigil.store',"
        " 'vigil.matching.hashing') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_help_paragraphs_are_wrapped_once_at_80_columns() -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, COLUMNS="80", TERM="dumb")
    out = subprocess.run([sys.executable, "-m", "vigil.cli", "scan", "--help"], env=env,
                         capture_output=True, text=True, check=False).stdout  # fmt: skip
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    # the docstring's own line break after "(with its reason," no longer shows as a short line
    assert any("its reason, such as" in line for line in lines), out


def test_hash_of_a_photo_prints_whole_hashes_in_80_columns_and_exits_0(
    known_photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.matching.hashing import hash_file

    expected = hash_file(known_photos[0])
    with pytest.raises(SystemExit) as code:
        main(["hash", str(known_photos[0])])
    assert code.value.code == 0  # a photo is not "not a video" (was exit 7)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(known_photos[0])  # the file, whole, on its own line
    assert max(len(line) for line in lines[1:]) <= 80
    for name in ("md5", "sha256", "pdq"):
        value = expected.signals[name].value
        assert any(line.split()[:2] == [name, value] for line in lines), (name, lines)


def test_a_failed_detection_with_create_leaves_no_list(tmp_path: Path) -> None:
    from vigil.store import Store

    bare = tmp_path / "hashes.txt"
    bare.write_text(f"{EXAMPLE_PDQ[0]}\n")  # 64 hex digits: PDQ or SHA-256, not guessed
    with pytest.raises(SystemExit) as code:
        main(["--home", str(tmp_path / "h"), "list", "import", "new", str(bare), "--create"])
    assert code.value.code == 2
    store = Store.open(tmp_path / "h")
    assert [i.name for i in store.all_lists()] == []
    store.close()


def test_match_shows_whole_entries_within_80_columns(
    known_photos: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.lists import Entry
    from vigil.matching.hashing import hash_file
    from vigil.store import Store

    md5 = hash_file(known_photos[0]).signals["md5"].value
    store = Store.open(tmp_path / "h")
    store.create_list("known-sample-list", category_labels={"1": "known sample"})
    store.apply("known-sample-list", [Entry(f"md5:{md5}", [("md5", md5)], category=1)])
    store.close()
    with pytest.raises(SystemExit) as code:
        main(["--home", str(tmp_path / "h"), "match", str(known_photos[0]), "--no-variants"])
    assert code.value.code in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(known_photos[0])  # the input, whole, on its own line
    assert max(len(line) for line in lines[1:]) <= 80
    assert any(line.split() == ["known-sample-list", f"md5:{md5}"] for line in lines), lines
