"""Rate-limit headers Zenoti (or a proxy in front of it) should never send — infinite,
astronomically large, or far-future values — give a typed error or a bounded wait, never an
unhandled exception or a budget paused for hours."""

import pytest

from booking.zenoti import Budget, errors
from booking.zenoti.ratelimit import MAX_WAIT_HINT, parse_retry_after

from .doubles import Recorder, respond

CENTER_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
CENTER = {"center": {"id": CENTER_ID, "name": "Lumen SoHo"}, "error": None}
TOO_MANY = {"error": {"code": 429, "message": "Too many requests"}}


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-5", "soon"])
def test_unreadable_rate_limit_remaining_is_ignored(make_client, value):
    recorder = Recorder(respond(body=CENTER, headers={"RateLimit-Remaining": value}))
    assert make_client(recorder).get_center(CENTER_ID).name == "Lumen SoHo"


@pytest.mark.parametrize("value", ["inf", "1e400", "86400", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_is_a_rate_limit_error_with_a_bounded_wait(make_client, value):
    recorder = Recorder(respond(429, TOO_MANY, headers={"Retry-After": value}))
    with pytest.raises(errors.RateLimitedError) as caught:
        make_client(recorder, deadline=5.0).get_center(CENTER_ID)
    assert caught.value.retry_after is None or caught.value.retry_after <= MAX_WAIT_HINT


def test_retry_after_is_capped(clock):
    assert parse_retry_after("86400", clock.time()) == MAX_WAIT_HINT
    assert parse_retry_after("12", clock.time()) == 12


def test_a_proxys_day_long_retry_after_pauses_the_budget_for_minutes_at_most(store, clock):
    budget = Budget(store, "zenoti-budget:test", clock=clock.time, sleep=clock.sleep)
    budget.observe({"Retry-After": "86400"}, 429)
    assert 0 < budget.state().paused_for <= MAX_WAIT_HINT


def test_an_aware_slot_time_is_refused_before_any_call(make_client):
    from datetime import UTC, datetime

    recorder = Recorder(respond(body={}))
    client = make_client(recorder)
    with pytest.raises(ValueError, match="naive center-local"):
        client.reserve_slot("b-1", datetime(2026, 12, 15, 15, 0, tzinfo=UTC))
    assert recorder.requests == []
