"""Small text formatters shared by the trace, the timeline and the library view."""
from __future__ import annotations


def fmt_time(t: float | None) -> str:
    """Seconds as m:ss.s (or h:mm:ss.s past an hour); '?' when unknown."""
    if t is None:
        return "?"
    t = max(0.0, float(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{int(h)}:{int(m):02d}:{s:04.1f}"
    return f"{int(m)}:{s:04.1f}"


def fmt_clock(t: float | None) -> str:
    """Seconds as a person reads a player's clock: '2:38' or '1:02:03' ('?' when unknown)."""
    if t is None:
        return "?"
    s = int(max(0.0, float(t)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_span(start_s: float, end_s: float) -> str:
    """A span as 'm:ss.s–m:ss.s'."""
    return f"{fmt_time(start_s)}–{fmt_time(end_s)}"


def fmt_duration(seconds: float | None) -> str:
    """A length for the library table: '1:02:03', '4:05' or '—'."""
    return "—" if seconds is None else fmt_clock(round(seconds))


def shorten(text: str | None, limit: int = 160) -> str:
    """One line of at most `limit` characters."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
