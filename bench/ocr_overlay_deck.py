"""A larger rendered sample for the OCR recall bench: credits, title cards, lower thirds and end cards
in the styles of `tests/fixtures/overlays.py`, over all four real clips, about two and a half minutes.

The sample of the fixture module holds 11 lines; one missed line moves its recall by 9 points. This
deck shows each kind of card several times in its realistic variants (outlined and plain titles, light
and dark bands, role cards with and without a band, funders side by side, two credit rolls, small
end-card type over dimmed footage), with names and wording unlike the fixture's own sample.
"""
from __future__ import annotations

from tests.fixtures.overlays import Card, Style

DURATION_S = 150.0


def deck() -> list[Card]:
    """The cards of the larger sample, in screen order."""
    role = Style(font_px=44, label_px=24, layout="role")
    lower = Style(font_px=34, label_px=22, band="translucent", position="lower_third")
    return [
        Card("title", ("Rivers of the North",), 1.0, 6.0, Style(font_px=64, font="serif_bold", outline_px=3, fade_s=0.5)),
        Card("lower_third", ("Prof. Henrik Aalto", "Hydrologist, University of Oulu"), 7.0, 12.0, lower),
        Card("credit", ("Directed by", "Ana Silva"), 13.0, 17.0, role),
        Card("credit", ("Written by", "Kwame Mensah"), 18.0, 22.0, replace_style(role, band="translucent")),
        Card("credit", ("With the support of", "Baltic Heritage Trust", "Lumen Film Fund"), 23.0, 28.0,
             Style(font_px=28, label_px=22, layout="columns", band="translucent")),
        Card("title", ("Chapter One: Meltwater",), 29.0, 33.0, Style(font_px=52, font="serif", position="top")),
        Card("lower_third", ("Lena Fischer", "Field Guide, Lapland Tours"), 34.0, 39.0,
             Style(font_px=34, label_px=22, band="solid", light_text=False, position="lower_third")),
        Card("credit", ("Cinematography by", "Yuki Tanaka"), 40.0, 44.0, replace_style(role, fade_s=0.5)),
        Card("credit", ("Camera Omar Haddad", "Editing Clara Moreau", "Music Felix Brandt",
                        "Sound Design Ingrid Berg", "Colour Grading Marco Rossi"), 45.0, 55.0,
             Style(font_px=30, position="scroll", font="sans")),
        Card("title", ("Part Two", "The Delta"), 56.0, 61.0, Style(font_px=56, font="bold", outline_px=2)),
        Card("lower_third", ("Samuel Okoye", "Fisherman, Niger Delta"), 62.0, 67.0, lower),
        Card("credit", ("Produced by", "Mira Kovac"), 68.0, 72.0, Style(font_px=40, label_px=22, layout="role",
                                                                      font="condensed")),
        Card("credit", ("Funded by", "The Greenway Foundation"), 73.0, 77.0, replace_style(role, band="solid")),
        Card("end_card", ("Thank you for watching",), 78.0, 82.0, Style(font_px=40, font="sans", dim_footage=0.8)),
        Card("title", ("Chapter Three: The Estuary",), 83.0, 87.0, Style(font_px=48, font="bold", position="bottom",
                                                                          band="translucent")),
        Card("lower_third", ("Dr. Aisha Rahman", "Ecologist, Coastal Research Centre"), 88.0, 93.0,
             replace_style(lower, fade_s=0.4)),
        Card("credit", ("Additional footage courtesy of", "Nordic Archive", "Delta Media Lab"), 94.0, 99.0,
             Style(font_px=28, label_px=22, layout="columns")),
        Card("credit", ("Narration Grace Liu", "Research Tomas Novak", "Graphics Elena Petrova",
                        "Producer David Cohen"), 100.0, 110.0, Style(font_px=28, position="scroll", font="sans")),
        Card("credit", ("Voice of the river", "Oliver Grant"), 111.0, 115.0, Style(font_px=36, label_px=24,
                                                                                  layout="role", font="serif")),
        Card("title", ("Epilogue",), 116.0, 120.0, Style(font_px=60, font="serif_bold", outline_px=3)),
        Card("end_card", ("A Riverside Pictures production", "riversidepictures.org"), 121.0, 127.0,
             Style(font_px=26, font="sans", dim_footage=0.85)),
        Card("end_card", ("Released under CC BY-SA 4.0", "Some footage used under licence"), 128.0, 134.0,
             Style(font_px=20, font="sans", dim_footage=0.85)),
        Card("lower_third", ("Recorded on location in Finland and Nigeria",), 135.0, 140.0,
             Style(font_px=26, band="translucent", position="lower_third", font="sans")),
        Card("end_card", ("Copyright 2024 Riverside Pictures Ltd",), 142.0, 148.0,
             Style(font_px=18, font="sans", dim_footage=0.85, fade_s=0.5)),
    ]


def replace_style(style: Style, **changes: object) -> Style:
    """`style` with some fields changed."""
    from dataclasses import replace

    return replace(style, **changes)
