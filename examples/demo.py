"""Vigil's main job end to end on the embedded default (SQLite + index files, no server).

1. creates a list and adds the benign photos in examples/photos/known/ to it;
2. makes a folder of altered copies of them beside the unrelated photos of
   examples/photos/unrelated/: PDQ finds the resized, re-encoded, rotated, mirrored, grey and
   brighter ones (near_duplicate); the cropped, padded, captioned and slightly rotated ones
   need Vigil's robust signal (altered_copy);
3. scans that folder with `vigil scan` and prints, per file, what matched and what the file's
   own evidence says about how it was made (one copy carries image-to-image generator
   metadata, written here, and one unrelated photo a camera's EXIF).

Everything happens in ./demo-home (data) and ./demo-home/queries (the folder scanned); the
commands printed are the ones a user would type.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from PIL.PngImagePlugin import PngInfo
from rich.console import Console

ROOT = Path(__file__).resolve().parent
HOME = Path.cwd() / "demo-home"
VIGIL = str(Path(sys.executable).with_name("vigil"))
console = Console()

INFOTEXT = (
    "a folded jumper on a chair\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
    "CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 6ce0161689, Denoising strength: 0.4"
)
ALTERATIONS = {
    "half-size": lambda im: im.resize((im.width // 2, im.height // 2)),
    "jpeg-q25": lambda im: im,  # saved below at quality 25
    "rotated-90": lambda im: im.rotate(90, expand=True),
    "mirrored": ImageOps.mirror,
    "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
}


def _caption(im: Image.Image) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, int(im.height * 0.8), im.width, im.height), fill=(20, 20, 20))
    draw.text((10, int(im.height * 0.85)), "a caption over the photo", fill=(255, 255, 255))
    return out


ROBUST = {
    "cropped-20": lambda im: im.crop((im.width // 5, 0, im.width, im.height * 4 // 5)),
    "padded": lambda im: ImageOps.expand(im, border=im.width // 8, fill=(0, 0, 0)),
    "rotated-4": lambda im: im.rotate(4, resample=Image.BILINEAR),
    "captioned": _caption,
}


def run(*args: str) -> None:
    console.print(f"[dim]$ vigil {' '.join(args)}[/dim]")
    code = subprocess.run([VIGIL, "--home", str(HOME), *args], check=False).returncode
    if code not in (0, 7):  # 7: finished, some inputs had problems (reported)
        sys.exit(f"vigil {args[0]} failed with exit code {code}")


def make_queries(known: list[Path], unrelated: list[Path], out: Path) -> None:
    out.mkdir(parents=True)
    for i, path in enumerate(known):
        name = list(ALTERATIONS)[i % len(ALTERATIONS)]
        img = ALTERATIONS[name](Image.open(path).convert("RGB"))
        img.save(out / f"{path.stem}-{name}.jpg", quality=25 if name == "jpeg-q25" else 85)
        name = list(ROBUST)[i % len(ROBUST)]
        ROBUST[name](Image.open(path).convert("RGB")).save(out / f"{path.stem}-{name}.jpg")
    # a cropped copy re-saved by an image-to-image generator front-end (its metadata only)
    info = PngInfo()
    info.add_text("parameters", INFOTEXT)
    crop = ROBUST["cropped-20"](Image.open(known[0]).convert("RGB"))
    crop.save(out / f"{known[0].stem}-img2img.png", pnginfo=info)
    for i, path in enumerate(unrelated):
        if i == 0:  # one photo as a phone would save it: camera EXIF
            exif = Image.Exif()
            exif.update({271: "DemoPhone", 272: "DP-1", 305: "DemoPhone camera 1.0"})
            exif.get_ifd(0x8769)[0x9003] = "2024:06:01 12:00:00"
            Image.open(path).save(out / f"unrelated-{path.name}", exif=exif.tobytes())
            continue
        shutil.copy(path, out / f"unrelated-{path.name}")
    (out / "not-an-image.jpg").write_bytes(b"a text file with a .jpg name")


def main() -> None:
    if HOME.exists():
        shutil.rmtree(HOME)
    known = sorted((ROOT / "photos" / "known").glob("*.jpg"))
    unrelated = sorted((ROOT / "photos" / "unrelated").glob("*.jpg"))
    queries = HOME / "queries"
    make_queries(known, unrelated, queries)

    run(
        "list",
        "create",
        "demo-known",
        "--description",
        "benign sample photos",
        "--label",
        "1=known sample",
    )
    run("list", "add", "demo-known", *map(str, known), "--category", "1", "--source", "demo")
    report = HOME / "scan.jsonl"
    run("scan", str(queries), "--list", "demo-known", "--report", str(report))

    console.print("[bold]per file[/bold]")  # a file, then what was found: fits 80 columns
    for line in report.read_text().splitlines():
        row = json.loads(line)
        origin = row.get("evidence", {}).get("summary", "")
        said = f"; evidence says {origin}" if origin not in ("", "unknown") else ""
        console.print(Path(row["path"]).name, highlight=False, markup=False)
        if row["matches"]:
            m = row["matches"][0]
            how = f"{m['kind']} via {','.join(m['via'])}, distance {m['distance']}, {m['variant']}"
            console.print(f"  [bold red]known[/bold red]: {how}{said}", highlight=False)
        elif row["status"] == "error":
            console.print(f"  [yellow]error[/yellow]: {row['error']['reason']}", highlight=False)
        else:
            console.print(f"  [green]no match[/green]{said}", highlight=False)
    console.print(f"Report: {report}. Data directory: {HOME} (delete it when done).")


if __name__ == "__main__":
    main()
