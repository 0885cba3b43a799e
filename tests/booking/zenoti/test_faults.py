"""Fault tests: the client's observable behaviour under each of the sandbox's fault knobs —
retries, backoff bounded by the deadline, no duplicate guest or booking when a write commits
and its answer is lost, 4072 and stolen slots surfaced as SlotUnavailableError, and a shared
budget that keeps the client clear of 429s."""

from datetime import date, timedelta

import pytest

from booking.zenoti import Budget, errors, types
from booking.zenoti.client import MAX_ATTEMPTS

from .doubles import FakeStore

SOHO = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"


@pytest.fixture
def faults(demo_sandbox):
    from sandbox.testing import set_faults

    return lambda **knobs: set_faults("lumen", **knobs)


def ada(email="ada@example.com"):
    return types.NewGuest(
        center_id=SOHO,
        first_name="Ada",
        last_name="Lovelace",
        email=email,
        phone="+1 212 555 0199",
        referral_source_id=WEBSITE,
    )


def guests_named(email):
    from sandbox.models import Guest

    return Guest.objects.filter(email__iexact=email).count()


def held_booking(zenoti):
    """(guest, service, slot time, booking id) with the slot reserved."""
    guest = zenoti.find_or_create_guest(ada())
    service = next(s for s in zenoti.list_services(SOHO) if s.can_book)
    for offset in range(2, 16):
        booking_id = zenoti.create_booking(
            SOHO, date.today() + timedelta(days=offset), service.id, guest_id=guest.id
        )
        free = [s for s in zenoti.get_slots(booking_id).slots if s.available]
        if free:
            zenoti.reserve_slot(booking_id, free[0].time)
            return guest, service, free[0].time, booking_id
    raise AssertionError("no free slot")


# --- 5xx and hangs ---------------------------------------------------------------------


def test_a_failing_zenoti_is_retried_then_reported(sandbox_client, faults, calls, clock):
    faults(error_rate=1.0)
    with pytest.raises(errors.UpstreamUnavailableError) as caught:
        sandbox_client(deadline=60.0).get_center(SOHO)
    assert "try again" in caught.value.message
    assert [c.attempt for c in calls] == list(range(1, MAX_ATTEMPTS + 1))
    assert {c.status for c in calls} <= {500, 502, 503}
    assert len(clock.sleeps) == MAX_ATTEMPTS - 1


def test_an_unreliable_zenoti_is_ridden_out_by_retries(sandbox_client, faults, calls):
    faults(error_rate=0.3, fault_seed=7)
    zenoti = sandbox_client(deadline=60.0)
    answered = 0
    for _ in range(10):
        try:
            assert zenoti.get_center(SOHO).id == SOHO
            answered += 1
        except errors.UpstreamUnavailableError:
            assert calls[-1].attempt == MAX_ATTEMPTS  # only after every retry failed
    assert answered >= 8
    assert any(c.attempt > 1 and c.outcome == "ok" for c in calls)  # a retry saved a call
    assert all(c.status in (500, 502, 503) for c in calls if c.outcome != "ok")


def test_backoff_never_runs_past_the_deadline(sandbox_client, faults, clock):
    faults(error_rate=1.0)
    zenoti = sandbox_client(deadline=1.0, clock=clock.time)
    start = clock.now
    with pytest.raises(errors.UpstreamUnavailableError):
        zenoti.get_center(SOHO)
    assert clock.now - start < 1.0


def test_a_hanging_zenoti_times_out_and_reads_are_retried(sandbox_client, faults, calls):
    faults(hang_rate=1.0)
    with pytest.raises(errors.ZenotiTimeoutError):
        sandbox_client(deadline=60.0).list_centers()
    assert [c.outcome for c in calls] == ["timeout"] * MAX_ATTEMPTS


def test_a_hanging_write_is_not_retried(sandbox_client, faults, calls):
    faults(hang_rate=1.0)
    with pytest.raises(errors.ZenotiTimeoutError):
        sandbox_client().create_guest(ada())
    assert len(calls) == 1
    assert guests_named("ada@example.com") == 0


def test_added_latency_shows_in_the_call_log(sandbox_client, faults, calls):
    faults(latency_ms=30)
    sandbox_client().get_center(SOHO)
    assert calls[0].latency_ms >= 30


# --- lost answers: no duplicates -------------------------------------------------------


def test_no_duplicate_guest_when_the_create_commits_and_the_answer_is_lost(
    sandbox_client, faults, calls
):
    faults(lose_response_rate=1.0)
    guest = sandbox_client().find_or_create_guest(ada())
    assert guest.email == "ada@example.com"
    assert guests_named("ada@example.com") == 1
    creates = [c for c in calls if c.method == "POST"]
    assert [c.outcome for c in creates] == ["timeout"]  # created once, never again


def test_raw_create_after_a_lost_answer_raises_a_timeout(sandbox_client, faults):
    faults(lose_response_rate=1.0)
    with pytest.raises(errors.ZenotiTimeoutError):
        sandbox_client().create_guest(ada())
    assert guests_named("ada@example.com") == 1  # it did happen: hence find_or_create_guest


def test_no_duplicate_booking_when_the_confirm_commits_and_the_answer_is_lost(
    sandbox_client, faults, calls
):
    from sandbox.models import Appointment

    zenoti = sandbox_client()
    guest, service, start, booking_id = held_booking(zenoti)
    faults(lose_response_rate=1.0)
    confirmation = zenoti.confirm_booking_safely(
        booking_id, guest_id=guest.id, service_id=service.id, start_time=start
    )
    [item] = confirmation.items
    assert (item.service_id, item.start_time) == (service.id, start)
    assert Appointment.objects.filter(guest_id=guest.id, booking_id=booking_id).count() == 1
    confirms = [c for c in calls if c.path_template.endswith("/confirm")]
    assert len(confirms) == 1
    assert calls[-1].path_template == "/guests/{guest_id}/appointments"


def test_a_confirm_lost_to_a_5xx_is_checked_then_retried(sandbox_client, calls, monkeypatch):
    import sandbox.faults
    from sandbox.models import Appointment

    zenoti = sandbox_client()
    guest, service, start, booking_id = held_booking(zenoti)
    # The next request (the confirm) meets a proxy's 502 page; later ones are healthy.
    plans = iter([sandbox.faults.Plan(server_error="502-html")])
    monkeypatch.setattr(sandbox.faults, "draw", lambda org, n: next(plans, sandbox.faults.Plan()))
    confirmation = zenoti.confirm_booking_safely(
        booking_id, guest_id=guest.id, service_id=service.id, start_time=start
    )
    assert confirmation.items[0].start_time == start
    assert Appointment.objects.filter(booking_id=booking_id).count() == 1
    assert [(c.path_template, c.status) for c in calls[-3:]] == [
        ("/bookings/{booking_id}/slots/confirm", 502),
        ("/guests/{guest_id}/appointments", 200),
        ("/bookings/{booking_id}/slots/confirm", 200),
    ]


# --- slots taken -------------------------------------------------------------------------


def test_a_stolen_slot_is_slot_unavailable_on_reserve(sandbox_client, faults):
    zenoti = sandbox_client()
    guest = zenoti.find_or_create_guest(ada())
    service = next(s for s in zenoti.list_services(SOHO) if s.can_book)
    booking_id = zenoti.create_booking(
        SOHO, date.today() + timedelta(days=3), service.id, guest_id=guest.id
    )
    free = [s for s in zenoti.get_slots(booking_id).slots if s.available]
    faults(steal_rate=1.0)
    with pytest.raises(errors.SlotUnavailableError) as caught:
        zenoti.reserve_slot(booking_id, free[0].time)
    assert caught.value.code == 4072
    assert "pick another time" in caught.value.message


@pytest.mark.parametrize("as_200", [False, True])
def test_a_lapsed_hold_is_4072_on_confirm(sandbox_client, faults, monkeypatch, as_200):
    import sandbox.clock

    zenoti = sandbox_client()
    guest, service, start, booking_id = held_booking(zenoti)
    faults(business_errors_as_200=as_200)
    later = sandbox.clock.now() + timedelta(minutes=11)
    monkeypatch.setattr(sandbox.clock, "now", lambda: later)
    with pytest.raises(errors.SlotUnavailableError) as caught:
        zenoti.confirm_booking_safely(
            booking_id, guest_id=guest.id, service_id=service.id, start_time=start
        )
    assert (caught.value.status, caught.value.code) == (200 if as_200 else 400, 4072)


# --- rate limits -------------------------------------------------------------------------


def test_forced_429s_are_retried_after_retry_after(sandbox_client, faults, calls, clock):
    faults(rate_limited_rate=1.0)
    with pytest.raises(errors.RateLimitedError) as caught:
        sandbox_client(deadline=60.0).get_center(SOHO)
    assert caught.value.retry_after >= 1
    assert [c.status for c in calls] == [429] * MAX_ATTEMPTS
    assert clock.sleeps == [caught.value.retry_after] * (MAX_ATTEMPTS - 1)


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(sandbox_client, faults, clock):
    faults(rate_limit=2, rate_window_seconds=60, rate_burst=2)
    zenoti = sandbox_client(deadline=5.0)
    zenoti.get_center(SOHO)
    zenoti.get_center(SOHO)
    with pytest.raises(errors.RateLimitedError) as caught:
        zenoti.get_center(SOHO)
    assert caught.value.retry_after > 5
    assert clock.sleeps == []


def test_a_shared_budget_stops_calls_before_zenoti_says_429(sandbox_client, faults, calls):
    faults(rate_limit=5, rate_window_seconds=60, rate_burst=5)
    store = FakeStore(clock=type("Wall", (), {"time": staticmethod(__import__("time").time)})())
    budget = Budget(store, "zenoti-budget:lumen", background_reserve=2)
    zenoti = sandbox_client(budget=budget, deadline=3.0)
    zenoti.get_center(SOHO)  # teaches the budget 5;w=60;b=5
    zenoti.get_center(SOHO)
    zenoti.get_center(SOHO)
    refresher = sandbox_client(budget=budget, priority="background")
    with pytest.raises(errors.BudgetExhaustedError):
        refresher.list_centers()  # only the guests' reserve is left
    zenoti.get_center(SOHO)
    with pytest.raises(errors.BudgetExhaustedError):
        zenoti.get_center(SOHO)  # the next spendable token is 12 s away, past the deadline
    assert 429 not in [c.status for c in calls]
    assert [c.outcome for c in calls].count("ok") == 4  # 5, less the spare token
