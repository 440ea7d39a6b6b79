"""Text cards drawn over frames of the real clips, with their ground-truth lines (the OCR recall bench's
cards until `tests/fixtures/overlays.py` exists, and the screen-text tests' pictures).

Each card is a few consecutive frames of moving real footage with the same text on all of them:
a role and its name (small role above a larger name, or role and name in two columns), two funders
on one card, a light-on-dark end card with a licence, a lower third on a semi-transparent band, a
coloured outlined title, and a fade-in. Sizes scale with the frame height, with a floor so that the
smallest clip still gets type a person can read.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media"
CLIPS = ("cockatoo.mp4", "vtest.avi", "cityCC0.mpg", "tree.avi")
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"

Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Card:
    """A few frames of footage showing the same text, and the lines a reader should return."""

    kind: str                      # what sort of card (role, funders, end, lower_third, title, fade, columns)
    clip: str                      # the clip the footage comes from
    truth: tuple[str, ...]         # the lines as a person reads them (a role and its name on one line)
    frames: tuple[Image.Image, ...]


def clip_frames(name: str, n: int, step: int = 3, start: int = 0) -> list[Image.Image]:
    """`n` RGB frames of a real clip, `step` frames apart from frame `start` (moving footage)."""
    out: list[Image.Image] = []
    with av.open(str(MEDIA / name)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if i >= start and (i - start) % step == 0:
                out.append(frame.to_image().convert("RGB"))
                if len(out) == n:
                    break
    return out


def _px(h: int, size: float, floor: int = 11) -> int:
    """A font size given for a 720-line frame, scaled to this frame's height."""
    return max(floor, round(size * h / 720))


def _text(d: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, path: str, px: int, fill: Rgb,
          anchor: str = "mt", stroke: int = 0, stroke_fill: Rgb = (0, 0, 0)) -> None:
    d.text(xy, text, font=ImageFont.truetype(path, px), fill=fill, anchor=anchor,
           stroke_width=stroke, stroke_fill=stroke_fill)


def _role(img: Image.Image) -> tuple[str, ...]:
    d, (w, h) = ImageDraw.Draw(img), img.size
    _text(d, (w / 2, h * 0.40), "Narrated by", SANS, _px(h, 22), (235, 235, 235))
    _text(d, (w / 2, h * 0.40 + _px(h, 22) * 1.6), "Jane Doe", SANS_BOLD, _px(h, 34), (255, 255, 255))
    return ("Narrated by Jane Doe",)


def _funders(img: Image.Image) -> tuple[str, ...]:
    d, (w, h) = ImageDraw.Draw(img), img.size
    _text(d, (w / 2, h * 0.30), "Made possible with support from", SANS, _px(h, 20), (250, 250, 250))
    _text(d, (w * 0.27, h * 0.48), "Alder Family Foundation", SANS_BOLD, _px(h, 24), (255, 230, 160))
    _text(d, (w * 0.73, h * 0.48), "Northwind Arts Council", SANS_BOLD, _px(h, 24), (255, 230, 160))
    return ("Made possible with support from", "Alder Family Foundation", "Northwind Arts Council")


def _end(img: Image.Image) -> tuple[str, ...]:
    w, h = img.size
    dark = Image.new("RGB", img.size, (12, 14, 22))
    img.paste(Image.blend(img, dark, 0.8))
    d = ImageDraw.Draw(img)
    _text(d, (w / 2, h * 0.42), "Licensed under Creative Commons Attribution 4.0", SANS, _px(h, 20), (200, 200, 200))
    _text(d, (w / 2, h * 0.52), "creativecommons.org/licenses/by/4.0", SANS, _px(h, 18), (170, 170, 180))
    return ("Licensed under Creative Commons Attribution 4.0", "creativecommons.org/licenses/by/4.0")


def _lower_third(img: Image.Image) -> tuple[str, ...]:
    w, h = img.size
    band = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(band).rectangle((0, round(h * 0.74), round(w * 0.62), round(h * 0.90)), fill=(10, 30, 60, 150))
    img.paste(Image.alpha_composite(img.convert("RGBA"), band).convert("RGB"))
    d = ImageDraw.Draw(img)
    _text(d, (w * 0.04, h * 0.755), "Dr. Maria Lopez", SANS_BOLD, _px(h, 28), (255, 255, 255), anchor="lt")
    _text(d, (w * 0.04, h * 0.83), "Marine Biologist, Coastal Institute", SANS, _px(h, 20), (220, 225, 235),
          anchor="lt")
    return ("Dr. Maria Lopez", "Marine Biologist, Coastal Institute")


def _title(img: Image.Image) -> tuple[str, ...]:
    d, (w, h) = ImageDraw.Draw(img), img.size
    _text(d, (w / 2, h * 0.2), "The Secret Life of Birds", SERIF, _px(h, 56, 16), (250, 210, 60),
          stroke=max(1, _px(h, 2, 1)), stroke_fill=(40, 20, 0))
    return ("The Secret Life of Birds",)


def _columns(img: Image.Image) -> tuple[str, ...]:
    d, (w, h) = ImageDraw.Draw(img), img.size
    for i, (role, name) in enumerate((("Animation", "Lena Park"), ("Music", "Tom Reyes"))):
        y = h * 0.6 + i * _px(h, 34)
        _text(d, (w * 0.47, y), role, NARROW, _px(h, 24), (210, 230, 255), anchor="rt")
        _text(d, (w * 0.53, y), name, NARROW, _px(h, 24), (255, 255, 255), anchor="lt")
    return ("Animation Lena Park", "Music Tom Reyes")


def _fade(img: Image.Image, alpha: float) -> tuple[str, ...]:
    w, h = img.size
    layer = img.copy()
    truth = ("Filmed on location in Queensland",)
    _text(ImageDraw.Draw(layer), (w / 2, h * 0.85), truth[0], SANS, _px(h, 22), (255, 255, 255))
    img.paste(Image.blend(img, layer, alpha))
    return truth


def _compressed(img: Image.Image, quality: int = 60) -> Image.Image:
    """The picture after lossy compression, as a decoded video frame has it (soft, ringing edges)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


KINDS: dict[str, Callable[[Image.Image], tuple[str, ...]]] = {
    "role": _role, "funders": _funders, "end": _end, "lower_third": _lower_third,
    "title": _title, "columns": _columns,
}


def cards(clips: tuple[str, ...] = CLIPS, frames_per_card: int = 4) -> list[Card]:
    """Every kind of card over every clip; each card's frames are consecutive samples of moving footage."""
    out: list[Card] = []
    for clip in clips:
        footage = clip_frames(clip, frames_per_card * (len(KINDS) + 1), step=2)
        chunks = [footage[i:i + frames_per_card] for i in range(0, len(footage), frames_per_card)]
        for (kind, draw), chunk in zip(KINDS.items(), chunks):
            drawn = [f.copy() for f in chunk]
            truth = [draw(f) for f in drawn][0]
            out.append(Card(kind, clip, truth, tuple(_compressed(f) for f in drawn)))
        faded = [f.copy() for f in chunks[-1]]
        alphas = np.linspace(0.5, 1.0, len(faded))
        truth = [_fade(f, float(a)) for f, a in zip(faded, alphas)][0]
        out.append(Card("fade", clip, truth, tuple(_compressed(f) for f in faded)))
    return out
