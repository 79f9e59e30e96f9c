"""Plain images for the SD watermark's false-detection count (issue 17, item 12): every shared
photo, as it is and under 15 transforms that nobody watermarked (heavy JPEG, black and white
borders, letterbox, pillarbox, flat and near-flat images, upscaling, grey, blur), each run through
Vigil's watermark extractor exactly as ``vigil inspect`` runs it (the file's bytes, decoded).

    python -m bench.watermark_plain [--photos N]   (or as part of ``python -m bench.watermark``)
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterator
from multiprocessing import Pool
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps, ImageStat

from bench.common import need_shared
from vigil.evidence.base import EvidenceConfig
from vigil.evidence.container import FileView
from vigil.evidence.watermark import Watermark

Transform = Callable[[bytes, Image.Image], bytes]


def _save(img: Image.Image, fmt: str = "JPEG", **opts: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **opts)
    return out.getvalue()


def _border(img: Image.Image, fraction: float, colour: tuple[int, int, int]) -> Image.Image:
    pad = max(1, round(fraction * max(img.size)))
    return ImageOps.expand(img, border=pad, fill=colour)


def _bars(img: Image.Image, ratio: float) -> Image.Image:
    """Black bars to the ``ratio`` (width / height): letterbox when wider, pillarbox when not."""
    w, h = img.size
    size = (round(h * ratio), h) if w / h < ratio else (w, round(w / ratio))
    canvas = Image.new("RGB", size)
    canvas.paste(img, ((size[0] - w) // 2, (size[1] - h) // 2))
    return canvas


def _flat(img: Image.Image) -> Image.Image:
    mean = tuple(round(v) for v in ImageStat.Stat(img).mean[:3])
    return Image.new("RGB", img.size, mean)  # type: ignore[arg-type]


def _upscale(img: Image.Image) -> Image.Image:
    return img.resize((1024, round(1024 * img.height / img.width)), Image.Resampling.LANCZOS)


def _low_contrast(img: Image.Image) -> Image.Image:
    return Image.blend(_flat(img), img, 0.15)


TRANSFORMS: dict[str, Transform] = {
    "as shared": lambda data, img: data,
    "JPEG 90": lambda data, img: _save(img, quality=90),
    "JPEG 50": lambda data, img: _save(img, quality=50),
    "JPEG 20": lambda data, img: _save(img, quality=20),
    "JPEG 5": lambda data, img: _save(img, quality=5),
    "black border 10%, JPEG 90": lambda data, img: _save(_border(img, 0.1, (0, 0, 0)), quality=90),
    "black border 32 px, PNG": lambda data, img: _save(_border(img, 32 / 534, (0, 0, 0)), "PNG"),
    "white border 10%, JPEG 75": lambda data, img: _save(
        _border(img, 0.1, (255, 255, 255)), quality=75
    ),
    "letterbox 16:9, JPEG 85": lambda data, img: _save(_bars(img, 16 / 9), quality=85),
    "pillarbox 9:16, JPEG 85": lambda data, img: _save(_bars(img, 9 / 16), quality=85),
    "flat (mean colour), JPEG 90": lambda data, img: _save(_flat(img), quality=90),
    "near flat (15% contrast), JPEG 75": lambda data, img: _save(_low_contrast(img), quality=75),
    "upscaled to 1024 px, JPEG 85": lambda data, img: _save(_upscale(img), quality=85),
    "grey, JPEG 85": lambda data, img: _save(img.convert("L").convert("RGB"), quality=85),
    "blurred, JPEG 75": lambda data, img: _save(
        img.filter(ImageFilter.GaussianBlur(3)), quality=75
    ),
    "black border 10%, JPEG 20": lambda data, img: _save(_border(img, 0.1, (0, 0, 0)), quality=20),
}


def photos(limit: int = 0) -> list[Path]:
    base = need_shared() / "photos"
    found = sorted((base / "clothing").glob("*.jpg")) + sorted((base / "kodak").glob("*.png"))
    return found[:limit] if limit else found


def _score(path: Path) -> list[tuple[str, str, float | None]]:
    """(transform, photo, score when detected) for each transform of one photo."""
    data = path.read_bytes()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    out = []
    for name, transform in TRANSFORMS.items():
        found = Watermark(EvidenceConfig()).extract(FileView.read(transform(data, img), path.name))
        score = float(found[0].value["score"]) if found else None  # type: ignore[index]
        out.append((name, path.name, score))
    return out


def run(limit: int = 0, workers: int = 2) -> Iterator[tuple[str, str, float | None]]:
    with Pool(workers) as pool:
        for rows in pool.imap_unordered(_score, photos(limit), chunksize=8):
            yield from rows


def summary(rows: list[tuple[str, str, float | None]]) -> list[str]:
    """Markdown lines: images and false detections per transform, and in all."""
    lines = ["| plain images | count | false detections |", "|---|---|---|"]
    for name in TRANSFORMS:
        mine = [r for r in rows if r[0] == name]
        hits = sum(r[2] is not None for r in mine)
        lines.append(f"| {name} | {len(mine):,} | {hits} |")
    hits = [r for r in rows if r[2] is not None]
    lines.append(f"| **all** | **{len(rows):,}** | **{len(hits)}** |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=0, help="shared photos to transform (0: all)")
    args = ap.parse_args()
    rows = list(run(args.photos))
    print("\n".join(summary(rows)))
    for name, photo, score in rows:
        if score is not None:
            print(f"false: {name}: {photo} score {score}")


if __name__ == "__main__":
    main()
