"""Geometry of the usage-history chart: plain numbers and labels that a template draws as inline
SVG.

No drawing library and nothing loaded at view time: the template turns :class:`Chart` into ``<svg>``
markup. Days are placed by date (gaps stay gaps in time); the y axis uses round steps in GB (MB
below 1 GB).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Protocol, Sequence

from puq_bridge.clientarea.i18n import Catalog
from puq_bridge.usage.model import GB, MB

#: Above this many points the per-day markers are left out (the line alone reads better).
MARKER_LIMIT = 31


class DayUsage(Protocol):
    """What the chart needs of a day of history (the store's ``DailyPoint`` has it)."""

    day: dt.date
    used_bytes: int
    limit_bytes: int


@dataclass(frozen=True)
class Tick:
    """An axis tick: position in SVG units, its label, and the label's SVG ``text-anchor``."""

    pos: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Marker:
    """One day's point, with a tooltip text."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Chart:
    """Everything the SVG template needs; coordinates are in the ``0 0 width height`` viewBox."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    used_points: str
    limit_points: str
    area_path: str
    count: int
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...]

    @property
    def empty(self) -> bool:
        """True when there is no day to draw."""
        return self.count == 0


def build_chart(
    points: Sequence[DayUsage], fmt: Catalog, *, width: int = 480, height: int = 220
) -> Chart:
    """Lay out the history ``points`` (any order) with axis labels in ``fmt``'s locale."""
    days = sorted(points, key=lambda p: p.day)
    left, top, right, bottom = 70.0, 12.0, width - 8.0, height - 28.0
    unit, step, top_value = _scale(days)
    y_of = _linear(0, top_value * unit, bottom, top)
    x_of = _x_mapper(days, left, right)
    used = [(x_of(p.day), y_of(p.used_bytes)) for p in days]
    limits = [(x_of(p.day), y_of(p.limit_bytes)) for p in days if p.limit_bytes > 0]
    if (
        len(limits) == 1
    ):  # one day: show its limit across the plot, a single point would be invisible
        limits = [(left, limits[0][1]), (right, limits[0][1])]
    y_ticks = (
        tuple(
            Tick(round(y_of(v * unit), 1), _unit_label(fmt, v, unit, step))
            for v in _steps(top_value, step)
        )
        if days
        else ()
    )
    markers = ()
    if len(days) <= MARKER_LIMIT:
        markers = tuple(
            Marker(x, y, f"{fmt.date(p.day)}: {fmt.gb(p.used_bytes)}")
            for p, (x, y) in zip(days, used)
        )
    return Chart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        _points(used),
        _points(limits),
        _area(used, bottom),
        len(days),
        y_ticks,
        _x_ticks(days, x_of, fmt),
        markers,
    )


def _scale(days: Sequence[DayUsage]) -> tuple[int, float, float]:
    """(unit in bytes, tick step in units, axis top in units) with about four round steps."""
    peak = max((max(p.used_bytes, p.limit_bytes) for p in days), default=0)
    unit = GB if peak >= GB else MB
    peak_units = max(peak / unit, 1.0)
    step = _nice(peak_units / 4) if unit == GB else max(_nice(peak_units / 4), 1.0)
    return unit, step, math.ceil(peak_units / step) * step


def _nice(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    base = 10**exponent
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * base:
            return factor * base
    return 10 * base


def _steps(top_value: float, step: float) -> list[float]:
    count = int(round(top_value / step))
    return [i * step for i in range(count + 1)]


def _unit_label(fmt: Catalog, value: float, unit: int, step: float) -> str:
    digits = 0 if float(step).is_integer() else 1
    return fmt.unit(fmt.number(value, digits), "GB" if unit == GB else "MB")


def _linear(v0: float, v1: float, p0: float, p1: float):
    span = (v1 - v0) or 1
    return lambda v: round(p0 + (v - v0) * (p1 - p0) / span, 1)


def _x_mapper(days: Sequence[DayUsage], left: float, right: float):
    if not days:
        return lambda day: left
    first, last = days[0].day, days[-1].day
    if first == last:
        return lambda day: round((left + right) / 2, 1)
    total = (last - first).days
    return lambda day: round(left + (day - first).days * (right - left) / total, 1)


def _x_ticks(days: Sequence[DayUsage], x_of, fmt: Catalog) -> tuple[Tick, ...]:
    if not days:
        return ()
    chosen = [days[0].day]
    if len(days) >= 3:
        chosen.append(days[0].day + (days[-1].day - days[0].day) / 2)
    if days[-1].day != days[0].day:
        chosen.append(days[-1].day)
    anchors = (
        ["middle"] if len(chosen) == 1 else ["start"] + ["middle"] * (len(chosen) - 2) + ["end"]
    )
    return tuple(
        Tick(x_of(day), fmt.date_short(day), anchor) for day, anchor in zip(chosen, anchors)
    )


def _points(coords: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in coords)


def _area(coords: list[tuple[float, float]], bottom: float) -> str:
    if len(coords) < 2:
        return ""
    line = " L".join(f"{x:g},{y:g}" for x, y in coords)
    return f"M{coords[0][0]:g},{bottom:g} L{line} L{coords[-1][0]:g},{bottom:g} Z"
