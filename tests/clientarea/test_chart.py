"""Chart geometry: points placed by date, round axis steps, sensible with 0, 1 or many days."""

from __future__ import annotations

import datetime as dt

import pytest

from puq_bridge.clientarea.chart import build_chart
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import DailyPoint

DAY = dt.date(2026, 11, 22)


def coords(points: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in points.split()]


def test_empty(en):
    chart = build_chart([], en)
    assert (
        chart.empty
        and chart.used_points == ""
        and chart.limit_points == ""
        and chart.area_path == ""
    )
    assert chart.x_ticks == () and chart.y_ticks == () and chart.markers == ()


def test_single_day_is_centred_with_a_full_width_limit(en):
    chart = build_chart([DailyPoint(DAY, GB, 4 * GB)], en)
    ((x, y),) = coords(chart.used_points)
    assert x == pytest.approx((chart.left + chart.right) / 2)
    assert chart.top < y < chart.bottom
    limit = coords(chart.limit_points)
    assert [p[0] for p in limit] == [chart.left, chart.right]
    assert [t.label for t in chart.x_ticks] == ["22 Nov"]
    assert len(chart.markers) == 1 and chart.markers[0].title == "22 Nov 2026: 1.0 GB"


def test_points_placed_by_date_and_sorted(en):
    points = [
        DailyPoint(DAY, 2 * GB, 0),
        DailyPoint(DAY - dt.timedelta(days=10), 0, 0),
        DailyPoint(DAY - dt.timedelta(days=9), GB, 0),
    ]
    chart = build_chart(points, en)
    xs = [x for x, _ in coords(chart.used_points)]
    assert xs[0] == chart.left and xs[-1] == chart.right
    assert xs[1] - xs[0] == pytest.approx((chart.right - chart.left) / 10, abs=0.1)
    assert chart.limit_points == ""  # unlimited: no limit line
    ys = [y for _, y in coords(chart.used_points)]
    assert ys[0] == chart.bottom and ys[-1] < ys[1] < ys[0]


def test_round_steps_and_units(en):
    chart = build_chart([DailyPoint(DAY, 7 * GB, 10 * GB)], en)
    assert [t.label for t in chart.y_ticks] == ["0.0 GB", "2.5 GB", "5.0 GB", "7.5 GB", "10.0 GB"]
    small = build_chart([DailyPoint(DAY, 300 * MB, 0)], en)
    assert [t.label for t in small.y_ticks] == ["0 MB", "100 MB", "200 MB", "300 MB"]
    assert small.y_ticks[-1].pos == small.top
    tiny = build_chart([DailyPoint(DAY, 2 * MB, 0)], en)
    assert [t.label for t in tiny.y_ticks] == ["0 MB", "1 MB", "2 MB"]


def test_ninety_days_have_no_markers_and_three_date_labels(en):
    points = [DailyPoint(DAY - dt.timedelta(days=i), i * MB, GB) for i in range(90)]
    chart = build_chart(points, en)
    assert chart.count == 90 and chart.markers == ()
    assert [t.anchor for t in chart.x_ticks] == ["start", "middle", "end"]
    assert chart.area_path.startswith("M") and chart.area_path.endswith("Z")
