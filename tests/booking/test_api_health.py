"""The API health page: calls, error rate, latency percentiles, 429s and budget per
organization and per center, the latest errors, the hourly chart, and the empty state."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from booking import health
from booking.zenoti import Budget, budget_key
from tenants.models import Center

from .conftest import log_call


def url(org, window=None):
    base = reverse("booking-api-health", args=[org.slug])
    return f"{base}?window={window}" if window else base


@pytest.fixture
def second_center(org):
    return Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa7",
        name="Lumen Uptown",
        timezone="America/New_York",
        api_key="zk_live_other_key_0000",
    )


def test_percentile_interpolates_like_percentile_cont():
    values = [10.0, 20.0, 30.0, 40.0]
    assert health.percentile(values, 0.5) == 25.0
    assert health.percentile(values, 0.95) == pytest.approx(38.5)
    assert health.percentile([7.0], 0.95) == 7.0
    assert health.percentile([], 0.5) is None


def test_figures_count_calls_errors_429s_and_latency_per_center(org, center, second_center):
    for latency in range(10, 101, 10):  # 10 … 100 ms
        log_call(org, center, latency_ms=float(latency))
    log_call(org, center, status=429, outcome="http_error", error_code=429, latency_ms=5.0)
    log_call(org, center, status=None, outcome="timeout", latency_ms=3000.0)
    log_call(org, second_center, latency_ms=40.0, ratelimit_remaining=12)
    log_call(org, center, outcome="budget", status=None, latency_ms=0.0)  # never sent
    log_call(org, center, ago=timedelta(days=2))  # outside the 24 hours

    figures = health.api_health(org, "24h")

    totals = figures["totals"]
    assert (totals.calls, totals.errors, totals.rate_limited, totals.held_back) == (13, 2, 1, 1)
    assert totals.error_percent == "15%"
    latencies = sorted([float(x) for x in range(10, 101, 10)] + [5.0, 3000.0, 40.0])
    assert totals.p50 == pytest.approx(health.percentile(latencies, 0.5))
    assert totals.p95 == pytest.approx(health.percentile(latencies, 0.95))

    by_center = {row.center.name: row for row in figures["per_center"]}
    downtown = by_center["Lumen Downtown"]
    assert (downtown.calls, downtown.errors, downtown.rate_limited) == (12, 2, 1)
    assert downtown.held_back == 1
    assert downtown.p50 == pytest.approx(55.0)
    uptown = by_center["Lumen Uptown"]
    assert (uptown.calls, uptown.errors, uptown.p50, uptown.p95) == (1, 0, 40.0, 40.0)
    assert uptown.remaining == 12

    assert [e.outcome for e in figures["last_errors"]] == ["timeout", "http_error"]
    assert sum(bar.calls for bar in figures["bars"]) == 13
    assert sum(bar.errors for bar in figures["bars"]) == 2


def test_seven_day_window_includes_older_calls_in_four_hour_bars(org, center):
    log_call(org, center, ago=timedelta(days=2))
    log_call(org, center, ago=timedelta(days=8))  # beyond both windows
    figures = health.api_health(org, "7d")
    assert figures["totals"].calls == 1
    bars = figures["bars"]
    assert 42 <= len(bars) <= 43
    assert all(b.start.hour % 4 == 0 for b in bars)
    assert sum(b.calls for b in bars) == 1


def test_chart_bars_are_per_hour_and_each_call_lands_in_its_hour(org, center):
    now = timezone.now()
    log_call(org, center, ago=timedelta(minutes=1))
    log_call(org, center, ago=timedelta(hours=3), status=500, outcome="http_error")
    bars = health.api_health(org, "24h", now=now)["bars"]
    assert len(bars) == 25
    latest, three_hours_ago = bars[-1], bars[-4]
    assert latest.calls == 1 or bars[-2].calls == 1  # a call a minute ago may be last hour's
    assert three_hours_ago.errors == 1 or bars[-5].errors == 1
    chart = health.chart(bars, "24h")
    assert chart["scale_max"] == 1 and chart["total_errors"] == 1
    assert len(chart["labels"]) == 5


def test_budget_shows_the_shared_bucket_once_per_api_key(org, center, second_center):
    Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa8",
        name="Lumen Midtown",
        timezone="America/New_York",
        api_key=center.api_key,  # shares Downtown's key, so its budget
    )
    Budget(cache, budget_key(center.api_base_url, center.api_key)).acquire()
    budgets = health.budgets(Center.objects.filter(organization=org).order_by("name"))
    assert len(budgets) == 2
    shared = next(b for b in budgets if len(b.centers) == 2)
    assert shared.in_use and shared.tokens == pytest.approx(59, abs=0.5)
    assert not next(b for b in budgets if len(b.centers) == 1).in_use


def test_page_shows_the_numbers_to_a_viewer(login, org, center, viewer):
    log_call(org, center, latency_ms=120.0)
    log_call(org, center, status=401, outcome="http_error", error_code=None, latency_ms=80.0)
    response = login(viewer).get(url(org))
    assert response.status_code == 200
    page = response.text
    assert "API health" in page
    assert "50%" in page  # error rate
    assert "/centers/{center_id}/services" in page  # the latest error's call
    assert "<svg" in page and "style=" not in page
    assert 'aria-current="page"' in page


def test_page_has_a_real_empty_state(login, org, viewer):
    response = login(viewer).get(url(org))
    assert response.status_code == 200
    assert "No calls yet — press Test connection on a center" in response.text
    assert reverse("tenants-centers", args=[org.slug]) in response.text


def test_page_says_so_when_the_window_is_quiet(login, org, center, viewer):
    log_call(org, center, ago=timedelta(days=3))
    client = login(viewer)
    assert "No calls in the last 24 hours" in client.get(url(org)).text
    assert "No calls in the last 24 hours" not in client.get(url(org, "7d")).text


def test_an_unknown_window_falls_back_to_24_hours(login, org, center, viewer):
    log_call(org, center)
    response = login(viewer).get(url(org, "<script>"))
    assert response.status_code == 200
    assert response.context["window"] == "24h"


def test_calls_of_other_organizations_are_not_counted(login, org, other_org, center, viewer):
    log_call(other_org, None, latency_ms=1.0)
    response = login(viewer).get(url(org))
    assert "No calls yet" in response.text


def test_outsider_gets_404(login, org, outsider):
    assert login(outsider).get(url(org)).status_code == 404


def test_sidebar_links_to_api_health(login, org, viewer):
    response = login(viewer).get(reverse("tenants-dashboard", args=[org.slug]))
    assert url(org) in response.text
