"""Issue 23's families of everyday edits, written here from the issue's descriptions (benign
images only; no transform makes or alters imagery of people beyond the shared photos' own
geometry and colours). Each: ``(name, fn(img, rng, pool) -> img)`` as in
``../shared/bench/transforms.py``; ``pool`` holds unrelated photos used as grid cells, insets'
backgrounds and replacement regions.

Crops follow the shared set's convention: ``crop_30`` cuts 30% of each side's length (a
centred crop that keeps 49% of the area), ``crop_50`` cuts half of each (a quarter of the area,
anywhere). Rotations keep the frame (corners cut, as ``rotate_4``). ``region_N`` replaces a
rectangle of N% of the area with a part of another photo.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageOps

Transform = Callable[[Image.Image, random.Random, list[Image.Image]], Image.Image]


def crop(img: Image.Image, frac: float, rng: random.Random, centre: bool = False) -> Image.Image:
    w, h = img.size
    cw, ch = int(w * (1 - frac)), int(h * (1 - frac))
    x, y = ((w - cw) // 2, (h - ch) // 2) if centre else (rng.randint(0, w - cw),
                                                          rng.randint(0, h - ch))  # fmt: skip
    return img.crop((x, y, x + cw, y + ch))


def caption(img: Image.Image, rng: random.Random) -> Image.Image:
    """Two caption bars (a third of the width, a tenth of the height) with placeholder text."""
    out = img.copy()
    draw, (w, h) = ImageDraw.Draw(out), out.size
    for _ in range(2):
        x, y = rng.randint(0, w // 2), rng.randint(0, max(0, h - h // 10))
        draw.rectangle((x, y, x + w // 3, y + h // 10), fill=(rng.randint(0, 255),) * 3)
        draw.text((x + 4, y + 2), "placeholder caption", fill=(255, 255, 0))
    return out


def grid(img: Image.Image, rng: random.Random, pool: list[Image.Image], n: int) -> Image.Image:
    """An n x n sheet of cells the known image's size divided by n (so the sheet has its size),
    the known image in a random cell, unrelated photos in the others, a thin white border."""
    cw, ch = img.width // n, img.height // n
    out = Image.new("RGB", (cw * n, ch * n), (255, 255, 255))
    at = rng.randrange(n * n)
    for cell in range(n * n):
        src = img if cell == at else pool[rng.randrange(len(pool))]
        at_xy = ((cell % n) * cw + 2, (cell // n) * ch + 2)
        out.paste(src.convert("RGB").resize((cw - 4, ch - 4)), at_xy)
    return out


def sheet(images: list[Image.Image], n: int, cell: tuple[int, int] = (300, 225)) -> Image.Image:
    """A contact sheet of up to n x n images in reading order (a multi-known query)."""
    cw, ch = cell
    out = Image.new("RGB", (cw * n, ch * n), (255, 255, 255))
    for k, src in enumerate(images[: n * n]):
        out.paste(
            src.convert("RGB").resize((cw - 4, ch - 4)), ((k % n) * cw + 2, (k // n) * ch + 2)
        )
    return out


def inset(img: Image.Image, rng: random.Random, pool: list[Image.Image]) -> Image.Image:
    """The known image at 45% of its width inside an unrelated photo twice its size."""
    back = pool[rng.randrange(len(pool))].convert("RGB").resize((img.width * 2, img.height * 2))
    small = img.resize((int(img.width * 0.9), int(img.height * 0.9)))
    back.paste(small, (rng.randint(0, back.width - small.width),
                       rng.randint(0, back.height - small.height)))  # fmt: skip
    return back.resize((img.width, img.height))


def perspective(img: Image.Image, rng: random.Random, most: float = 0.06) -> Image.Image:
    """Each corner moved inwards or outwards by up to ``most`` of the side (a photo of a screen
    or of a print, taken slightly off axis)."""
    w, h = img.size
    dst = [(x + rng.uniform(-most, most) * w, y + rng.uniform(-most, most) * h)
           for x, y in _corners(w, h)]  # fmt: skip
    return photographed(img, dst)


def photographed(img: Image.Image, dst: list[tuple[float, float]]) -> Image.Image:
    """``img`` as a photo of it taken off axis: its corners (top left, top right, bottom
    right, bottom left) moved to ``dst`` (pixels), on a dark surround."""
    w, h = img.size
    return img.transform((w, h), Image.Transform.PERSPECTIVE, _coefficients(dst, _corners(w, h)),
                         Image.Resampling.BILINEAR, fillcolor=(20, 20, 20))  # fmt: skip


def _corners(w: int, h: int) -> list[tuple[float, float]]:
    return [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]


def lens(img: Image.Image, rng: random.Random, most: float = 0.06) -> Image.Image:
    """A slight lens curvature, as a phone adds to a photo of a screen or a print: radial
    distortion about the centre, barrel or pincushion, moving the corners by up to ``most`` of
    the half-diagonal (a point at radius r, as a share of it, shows the picture at r * (1 + k
    r^2)), on the dark surround of :func:`photographed`."""
    import cv2
    import numpy as np

    k = rng.uniform(-most, most)
    w, h = img.size
    half = np.hypot(w, h) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (xs - w / 2) / half, (ys - h / 2) / half
    grow = 1 + k * (dx * dx + dy * dy)
    mx, my = w / 2 + dx * grow * half, h / 2 + dy * grow * half
    rgb = np.asarray(img.convert("RGB"))
    out = cv2.remap(rgb, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=(20, 20, 20))  # fmt: skip
    return Image.fromarray(out)


def _coefficients(dst: list[tuple[float, float]],
                  src: list[tuple[float, float]]) -> list[float]:  # fmt: skip
    """PIL's 8 perspective coefficients mapping output points ``dst`` to input points ``src``."""
    import numpy as np

    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return [float(c) for c in np.linalg.solve(np.array(rows), np.array(rhs))]


def region(img: Image.Image, frac: float, rng: random.Random,
           pool: list[Image.Image]) -> Image.Image:  # fmt: skip
    out = img.copy()
    rw, rh = int(img.width * frac**0.5), int(img.height * frac**0.5)
    donor = pool[rng.randrange(len(pool))].convert("RGB").resize((rw, rh))
    out.paste(donor, (rng.randint(0, img.width - rw), rng.randint(0, img.height - rh)))
    return out


def _squeezed(img: Image.Image, factor: float) -> Image.Image:
    return img.resize((int(img.width * factor), img.height))


def _rotate(angle: float) -> Transform:
    return lambda im, r, p: im.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)


TRANSFORMS: list[tuple[str, Transform]] = [
    ("mirror_crop_15", lambda im, r, p: crop(ImageOps.mirror(im), 0.15, r)),
    ("mirror_caption", lambda im, r, p: caption(ImageOps.mirror(im), r)),
    ("grid_2x2", lambda im, r, p: grid(im, r, p, 2)),
    ("grid_3x3", lambda im, r, p: grid(im, r, p, 3)),
    ("grid_4x4", lambda im, r, p: grid(im, r, p, 4)),
    ("inset", inset),
    ("perspective", lambda im, r, p: perspective(im, r)),
    ("lens", lambda im, r, p: lens(im, r)),
    ("screen_photo", lambda im, r, p: lens(perspective(im, r), r, 0.04)),
    ("scale_x0.7", lambda im, r, p: _squeezed(im, 0.7)),
    # PDQ finds a copy resized to another aspect ratio; cropped too, only vlocal can
    ("crop_10_scale_x0.8", lambda im, r, p: _squeezed(crop(im, 0.10, r), 0.8)),
    ("crop_30", lambda im, r, p: crop(im, 0.30, r, centre=True)),
    ("crop_50", lambda im, r, p: crop(im, 0.50, r)),
    ("rotate_10", _rotate(10)),
    ("rotate_20", _rotate(20)),
    ("rotate_45", _rotate(45)),
    ("region_35", lambda im, r, p: region(im, 0.35, r, p)),
    ("region_50", lambda im, r, p: region(im, 0.50, r, p)),
]
# Families held to the lower target (>= 0.75 counting shared_scene).
HARD = ("grid_4x4", "region_50")
