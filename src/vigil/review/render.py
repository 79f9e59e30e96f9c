"""What a reviewer's screen shows of kept content (issue 20), made on the server so that no
clear pixel reaches the browser before a reveal: a **softened render** (blurred at one of
seven levels, or stylised: edges or posterised; greyscale by default) with the matched regions
drawn as boxes, and, only on an explicit reveal, the **clear image** or **one region** of it
(greyscale still, where so set). Video content is shown as a storyboard of keyframes, softened
the same way. Content is decoded with Vigil's bounded decoder."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from vigil.media import Limits
from vigil.media.decode import decode_image

__all__ = ["BLUR", "Box", "keyframes", "render", "reveal", "storyboard"]

# blur radius as a share of the image's shorter side, level 1 (light) to 7 (strongest): from
# level 3 on, no face, body or text in a 640-pixel render can be made out (checked in the
# tests by the sharpness of the result against the original)
BLUR = (0.015, 0.025, 0.035, 0.05, 0.07, 0.09, 0.12)
SIDE = 640  # renders fit this square
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions


def _load(data: bytes, name: str) -> Image.Image:
    img = decode_image(data, name, Limits()).image.convert("RGB")
    img.thumbnail((SIDE, SIDE))
    return img


def _soften(img: Image.Image, settings: dict[str, Any]) -> Image.Image:
    level = max(1, min(7, int(settings.get("blur", 5))))
    short = min(img.size)
    if settings.get("render") == "edges":
        small = img.resize((max(1, img.width // 8), max(1, img.height // 8)))
        edges = ImageOps.autocontrast(small.convert("L").filter(ImageFilter.FIND_EDGES))
        out = ImageOps.invert(edges).resize(img.size, Image.Resampling.BICUBIC).convert("RGB")
    elif settings.get("render") == "posterize":
        soft = img.filter(ImageFilter.GaussianBlur(short * BLUR[max(0, level - 2)]))
        out = ImageOps.posterize(soft, 2).filter(ImageFilter.GaussianBlur(2))
    elif settings.get("render") == "none":  # a reveal's storyboard
        out = img
    else:
        out = img.filter(ImageFilter.GaussianBlur(short * BLUR[level - 1]))
    return ImageOps.grayscale(out).convert("RGB") if settings.get("greyscale", True) else out


def _boxes(img: Image.Image, regions: Sequence[Box]) -> Image.Image:
    draw = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in regions:
        box = (x0 * img.width, y0 * img.height, x1 * img.width, y1 * img.height)
        draw.rectangle(box, outline=(255, 140, 0), width=3)
    return img


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def _is_video(data: bytes) -> bool:
    from vigil.media import sniff
    from vigil.media.video import VIDEO_KINDS

    return sniff(data[:64]) in VIDEO_KINDS


def keyframes(data: bytes, name: str, most: int = 12) -> list[Image.Image]:
    """Up to ``most`` key frames of a video, spread over it (its luma: greyscale)."""
    from vigil.media.video import iter_frames

    frames = [Image.fromarray(f.luma.clip(0, 255).astype("uint8"))
              for f in iter_frames(data, name, fps=1.0, keyframes_only=True)]  # fmt: skip
    step = max(1, len(frames) // most)
    return frames[::step][:most]


def render(data: bytes, name: str, settings: dict[str, Any], regions: Sequence[Box] = ()) -> bytes:
    """The softened render of an image (JPEG), with ``regions`` boxed; of a video, its
    storyboard of key frames, each softened."""
    if _is_video(data):
        return storyboard(keyframes(data, name), settings)
    return _jpeg(_boxes(_soften(_load(data, name), settings), regions))


def reveal(data: bytes, name: str, settings: dict[str, Any], region: Box | None = None) -> bytes:
    """The image as it is (greyscale where so set), or only ``region`` of it (JPEG); a video's
    storyboard as it is."""
    if _is_video(data):
        return storyboard(keyframes(data, name), settings | {"render": "none"})
    img = _load(data, name)
    if region is not None:
        x0, y0, x1, y1 = (max(0.0, min(1.0, v)) for v in region)
        if x1 - x0 < 0.01 or y1 - y0 < 0.01:
            raise ValueError("a region to reveal is at least 1% of the image each way")
        img = img.crop((round(x0 * img.width), round(y0 * img.height),
                        round(x1 * img.width), round(y1 * img.height)))  # fmt: skip
    return _jpeg(ImageOps.grayscale(img).convert("RGB") if settings.get("greyscale", True) else img)


def storyboard(frames: Sequence[Image.Image], settings: dict[str, Any], columns: int = 4) -> bytes:
    """Keyframes of a video side by side, each softened (JPEG). Never played, never heard."""
    tiles = []
    for f in frames:
        tile = f.convert("RGB")
        tile.thumbnail((SIDE // columns, SIDE // columns))
        tiles.append(_soften(tile, settings))
    if not tiles:
        raise ValueError("no frames to show")
    w, h = max(t.width for t in tiles), max(t.height for t in tiles)
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (w * min(columns, len(tiles)), h * rows), (40, 40, 40))
    for n, tile in enumerate(tiles):
        sheet.paste(tile, ((n % columns) * w, (n // columns) * h))
    return _jpeg(sheet)
