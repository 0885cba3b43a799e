"""Figures for the API health page, computed from the Zenoti call log of one organization:
calls, error rate, latency percentiles, 429s and remaining budget, per organization and per
center, the latest errors and calls per hour."""

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from booking.models import ERROR_OUTCOMES, CallOutcome, ZenotiCall
from booking.services import budget_for
from booking.zenoti import budget_key
from tenants.models import Center

# window name → (span, chart bar width)
WINDOWS = {
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=4)),
}
LAST_ERRORS = 10


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont (linear interpolation, like `percentile` below)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def percentile(sorted_values, fraction):
    """percentile_cont in Python, for SQLite: linear interpolation between closest ranks."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass
class Figures:
    calls: int = 0
    errors: int = 0
    rate_limited: int = 0  # 429s received from Zenoti
    held_back: int = 0  # refused by our own budget: never sent
    p50: float | None = None
    p95: float | None = None
    last_call_at: datetime | None = None
    remaining: int | None = None  # RateLimit-Remaining of the latest answer …
    remaining_at: datetime | None = None  # … and when it came

    @property
    def error_rate(self):
        return self.errors / self.calls if self.calls else None

    @property
    def error_percent(self):
        rate = self.error_rate
        if rate is None:
            return "—"
        # One decimal below 10% (where "0%" would hide a few failures), whole percents above.
        return f"{rate * 100:.1f}%" if rate < 0.1 else f"{rate * 100:.0f}%"


@dataclass
class CenterFigures(Figures):
    center: Center | None = None


@dataclass
class Budget:
    """The shared budget of one set of credentials, as it stands now."""

    centers: list = field(default_factory=list)
    tokens: float = 0
    burst: int = 0
    limit: int = 0
    window: float = 0
    paused_for: float = 0
    in_use: bool = False  # False: no call for a day, the bucket is full

    # Tokens dip below zero for a moment when a smaller bucket is learned.
    @property
    def available(self):
        return max(0.0, self.tokens)

    @property
    def percent(self):
        return 100 * self.available / self.burst if self.burst else 0


@dataclass
class Bar:
    start: datetime
    calls: int = 0
    errors: int = 0


def _aggregates():
    """Count, errors and 429s of upstream attempts."""
    return {
        "calls": Count("pk"),
        "errors": Count("pk", filter=Q(outcome__in=ERROR_OUTCOMES)),
        "rate_limited": Count("pk", filter=Q(status=429)),
        "last_call_at": Max("created_at"),
    }


def _latencies(attempts):
    """{center_id: (p50, p95)} and the organization's (p50, p95) under the key "all"."""
    if connection.vendor == "postgresql":
        fractions = {"p50": PercentileCont("latency_ms", fraction=0.5)}
        fractions["p95"] = PercentileCont("latency_ms", fraction=0.95)
        result = {
            row["center"]: (row["p50"], row["p95"])
            for row in attempts.values("center").annotate(**fractions).order_by()
        }
        total = attempts.aggregate(**fractions)
        result["all"] = (total["p50"], total["p95"])
        return result
    by_center, everything = {}, []
    for center_id, latency in attempts.values_list("center", "latency_ms").iterator():
        by_center.setdefault(center_id, []).append(latency)
        everything.append(latency)
    result = {}
    for key, values in [*by_center.items(), ("all", everything)]:
        values.sort()
        result[key] = (percentile(values, 0.5), percentile(values, 0.95))
    return result


def _latest_remaining(organization, since, centers):
    """{center_id: (remaining, at)} from each center's newest answer carrying
    RateLimit-Remaining (one indexed query per center: an organization has a handful)."""
    latest = {}
    for center in centers:
        row = (
            ZenotiCall.objects.filter(
                organization=organization,
                center=center,
                created_at__gte=since,
                ratelimit_remaining__isnull=False,
            )
            .order_by("-created_at")
            .values_list("ratelimit_remaining", "created_at")
            .first()
        )
        if row:
            latest[center.pk] = row
    return latest


def budgets(centers):
    """One entry per distinct set of credentials among the centers (centers sharing a key share
    a budget), with the bucket as every process sees it in the shared cache."""
    found = {}
    for center in centers:
        key = budget_key(center.api_base_url, center.api_key)
        if key not in found:
            state = budget_for(center).state()
            found[key] = Budget(
                tokens=state.tokens,
                burst=state.burst,
                limit=state.limit,
                window=state.window,
                paused_for=state.paused_for,
                in_use=cache.get(key) is not None,
            )
        found[key].centers.append(center)
    return list(found.values())


def api_health(organization, window="24h", *, now=None):
    """Everything the API health page shows, for the last 24 hours or 7 days."""
    span, bar_width = WINDOWS[window]
    now = now or timezone.now()
    since = now - span
    in_window = ZenotiCall.objects.filter(organization=organization, created_at__gte=since)
    attempts = in_window.exclude(outcome=CallOutcome.BUDGET)

    totals = Figures(**attempts.aggregate(**_aggregates()))
    held_back = dict(
        in_window.filter(outcome=CallOutcome.BUDGET)
        .values("center")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("center", "n")
    )
    totals.held_back = sum(held_back.values())
    latencies = _latencies(attempts)
    totals.p50, totals.p95 = latencies.get("all", (None, None))
    centers = list(Center.objects.filter(organization=organization))
    remaining = _latest_remaining(organization, since, centers)
    if remaining:
        totals.remaining, totals.remaining_at = max(remaining.values(), key=lambda r: r[1])

    per_center_rows = {
        row.pop("center"): row
        for row in attempts.values("center").annotate(**_aggregates()).order_by()
    }
    per_center = []
    # Calls of since-deleted centers (center NULL) get a row of their own, when there are any.
    for center in [*centers, None]:
        center_id = center.pk if center else None
        if center is None and center_id not in per_center_rows and center_id not in held_back:
            continue
        figures = CenterFigures(center=center, **per_center_rows.get(center_id, {}))
        figures.held_back = held_back.get(center_id, 0)
        figures.p50, figures.p95 = latencies.get(center_id, (None, None))
        figures.remaining, figures.remaining_at = remaining.get(center_id, (None, None))
        per_center.append(figures)

    last_errors = list(
        in_window.filter(outcome__in=ERROR_OUTCOMES)
        .select_related("center")
        .order_by("-created_at")[:LAST_ERRORS]
    )
    return {
        "window": window,
        "since": since,
        "totals": totals,
        "per_center": per_center,
        "last_errors": last_errors,
        "bars": _bars(attempts, organization, since, now, bar_width),
        "budgets": budgets(centers),
    }


def _bars(attempts, organization, since, now, bar_width):
    """Calls and errors per hour, summed into bars of bar_width, oldest first. Bars start on
    the organization's local hours (0:00, 4:00, … for 4-hour bars); the arithmetic is in UTC
    so a daylight-saving change neither drops nor doubles an hour."""
    zone = zoneinfo.ZoneInfo(organization.timezone)
    hours = (
        attempts.annotate(hour=TruncHour("created_at", tzinfo=zone))
        .values("hour")
        .annotate(calls=Count("pk"), errors=Count("pk", filter=Q(outcome__in=ERROR_OUTCOMES)))
        .order_by("hour")
    )
    local_first = since.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    step = int(bar_width.total_seconds() // 3600)
    local_first -= timedelta(hours=local_first.hour % step)
    first = local_first.astimezone(UTC)
    count = int((now - first) / bar_width) + 1
    bars = [Bar(start=(first + i * bar_width).astimezone(zone)) for i in range(count)]
    for row in hours:
        index = int((row["hour"].astimezone(UTC) - first) / bar_width)
        if 0 <= index < count:
            bars[index].calls += row["calls"]
            bars[index].errors += row["errors"]
    return bars


def has_calls(organization):
    """Whether this organization ever called Zenoti (within the retention period)."""
    return ZenotiCall.objects.filter(organization=organization).exists()


CHART_HEIGHT = 120  # SVG units; the SVG is drawn 120 px high, so strokes stay crisp
SLOT = 10  # SVG units per bar, of which the bar takes BAR


def chart(bars, window):
    """Geometry of the calls-per-hour bar chart (stacked: OK calls, errors on top) and its five
    time labels, for an inline SVG stretched to the card's width."""
    peak = max((bar.calls for bar in bars), default=0)
    scale_max = _nice_ceiling(peak)
    bar_hours = int(WINDOWS[window][1].total_seconds() // 3600)
    drawn = []
    for index, bar in enumerate(bars):
        calls_h = CHART_HEIGHT * bar.calls / scale_max if scale_max else 0
        errors_h = CHART_HEIGHT * bar.errors / scale_max if scale_max else 0
        end = bar.start + timedelta(hours=bar_hours)
        drawn.append(
            {
                "x": index * SLOT + 1.5,
                "ok_y": CHART_HEIGHT - calls_h,
                "ok_h": calls_h - errors_h,
                "err_y": CHART_HEIGHT - calls_h,
                "err_h": errors_h,
                "bar": bar,
                "end": end,
            }
        )
    labels = [bars[round(i * (len(bars) - 1) / 4)].start for i in range(5)] if bars else []
    busiest = max(bars, key=lambda bar: bar.calls, default=None)
    return {
        "width": len(bars) * SLOT,
        "height": CHART_HEIGHT,
        "bar_width": SLOT - 3,
        "bars": drawn,
        "scale_max": scale_max,
        "labels": labels,
        "busiest": busiest if busiest and busiest.calls else None,
        "bar_hours": bar_hours,
        "total_calls": sum(bar.calls for bar in bars),
        "total_errors": sum(bar.errors for bar in bars),
    }


def _nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50, … at or above value (0 stays 0)."""
    if value <= 0:
        return 0
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10
