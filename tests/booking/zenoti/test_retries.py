"""Retries: reads retried on timeouts, 5xx and 429 with capped full-jitter backoff, Retry-After
first and RateLimit-Reset next, all inside the deadline; writes retried only when Zenoti
provably did nothing. Every attempt is reported to on_call without keys or guest data."""

import httpx
import pytest

from booking.zenoti import Timeouts, errors
from booking.zenoti.client import BACKOFF_CAP, MAX_ATTEMPTS

from .doubles import API_KEY, Recorder, respond

CENTER_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
CENTER = {"center": {"id": CENTER_ID, "name": "Lumen SoHo"}, "error": None}
GUEST = {"id": "g-1", "personal_info": {"first_name": "Jane", "last_name": "Doe"}}


def read_timeout(request):
    raise httpx.ReadTimeout("timed out", request=request)


def connect_refused(request):
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def new_guest():
    from booking.zenoti import types

    return types.NewGuest(
        center_id=CENTER_ID,
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone="+15551234567",
    )


@pytest.mark.parametrize(
    "failure",
    [
        read_timeout,
        connect_refused,
        respond(500, {"Message": "An error has occurred."}),
        respond(502, text="<html>Bad Gateway</html>"),
        respond(503, text="<html>Service Unavailable</html>"),
        respond(429, {"error": {"code": 429, "message": "Too many requests"}}),
    ],
)
def test_reads_are_retried_after_transient_failures(make_client, clock, failure):
    recorder = Recorder(failure, respond(body=CENTER))
    client = make_client(recorder)
    assert client.get_center(CENTER_ID).name == "Lumen SoHo"
    assert len(recorder.requests) == 2
    assert len(clock.sleeps) == 1


def test_reads_give_up_after_four_attempts_and_raise_the_last_error(make_client, clock, calls):
    recorder = Recorder(respond(500, {"Message": "An error has occurred."}))
    client = make_client(recorder, deadline=60.0)
    with pytest.raises(errors.UpstreamUnavailableError):
        client.get_center(CENTER_ID)
    assert len(recorder.requests) == MAX_ATTEMPTS == 4
    assert [c.attempt for c in calls] == [1, 2, 3, 4]
    assert {(c.status, c.outcome) for c in calls} == {(500, "http_error")}


def test_backoff_is_full_jitter_doubling_and_capped(make_client, clock):
    client = make_client(Recorder(respond(503, text="down")), deadline=1000.0)
    client._rng.uniform = lambda low, high: high  # the top of each jitter range
    with pytest.raises(errors.UpstreamUnavailableError):
        client.get_center(CENTER_ID)
    assert clock.sleeps == [0.5, 1.0, 2.0]
    client._rng.uniform = lambda low, high: (low, high)
    assert client._backoff(errors.ZenotiError(), 10) == (0, BACKOFF_CAP)


def test_jittered_waits_stay_within_their_range(make_client, clock):
    client = make_client(Recorder(read_timeout), deadline=1000.0)
    for _ in range(20):
        with pytest.raises(errors.ZenotiTimeoutError):
            client.get_center(CENTER_ID)
    ceilings = [0.5, 1.0, 2.0] * 20
    assert all(0 <= s <= top for s, top in zip(clock.sleeps, ceilings, strict=True))
    assert len(set(clock.sleeps)) > 10  # really random


def test_retry_after_is_honoured_before_anything_else(make_client, clock):
    limited = respond(429, {}, headers={"Retry-After": "3", "RateLimit-Reset": "40"})
    recorder = Recorder(limited, respond(body=CENTER))
    make_client(recorder).get_center(CENTER_ID)
    assert clock.sleeps == [3.0]


def test_retry_after_as_an_http_date(make_client, clock, monkeypatch):
    monkeypatch.setattr("booking.zenoti.client.time.time", lambda: 1_800_000_000.0)
    limited = respond(429, {}, headers={"Retry-After": "Fri, 15 Jan 2027 08:00:04 GMT"})
    recorder = Recorder(limited, respond(body=CENTER))
    make_client(recorder).get_center(CENTER_ID)
    assert clock.sleeps == [4.0]


def test_ratelimit_reset_is_used_when_retry_after_is_missing(make_client, clock):
    recorder = Recorder(respond(429, {}, headers={"RateLimit-Reset": "2"}), respond(body=CENTER))
    make_client(recorder).get_center(CENTER_ID)
    assert clock.sleeps == [2.0]


def test_a_503_retry_after_is_honoured_too(make_client, clock):
    recorder = Recorder(
        respond(503, text="busy", headers={"Retry-After": "1"}), respond(body=CENTER)
    )
    make_client(recorder).get_center(CENTER_ID)
    assert clock.sleeps == [1.0]


def test_a_wait_past_the_deadline_is_not_slept_the_last_error_is_raised(make_client, clock):
    recorder = Recorder(respond(429, {}, headers={"Retry-After": "30"}), respond(body=CENTER))
    client = make_client(recorder, deadline=20.0)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.get_center(CENTER_ID)
    assert caught.value.retry_after == 30.0
    assert clock.sleeps == []
    assert len(recorder.requests) == 1


def test_retries_and_waits_never_run_past_the_deadline(make_client, clock):
    start = clock.now

    def slow_failure(request):
        # Each attempt hangs until its read timeout (at most 4 s), then times out.
        clock.advance(min(4.0, request.extensions["timeout"]["read"]))
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(Recorder(slow_failure), deadline=10.0)
    with pytest.raises(errors.ZenotiTimeoutError):
        client.get_center(CENTER_ID)
    assert clock.now - start <= 10.0


def test_each_attempt_gets_explicit_timeouts_cut_to_the_deadline_left(make_client, clock):
    seen = []

    def answer(request):
        seen.append(request.extensions["timeout"])
        clock.advance(15.0)
        return respond(503, text="down")

    client = make_client(
        Recorder(answer),
        timeouts=Timeouts(connect=3.0, read=10.0, write=5.0, pool=2.0),
        deadline=20.0,
    )
    client._rng.uniform = lambda low, high: 0.0
    with pytest.raises(errors.UpstreamUnavailableError):
        client.get_center(CENTER_ID)
    assert seen[0] == {"connect": 3.0, "read": 10.0, "write": 5.0, "pool": 2.0}
    assert seen[1] == {"connect": 3.0, "read": 5.0, "write": 5.0, "pool": 2.0}
    assert len(seen) == 2  # the deadline was spent: no third attempt


@pytest.mark.parametrize(
    "failure",
    [
        read_timeout,
        respond(500, {"Message": "An error has occurred."}),
        respond(502, text="<html>Bad Gateway</html>"),
        respond(200, text="<html>oops</html>"),
    ],
)
def test_writes_are_never_retried_after_an_ambiguous_failure(make_client, failure):
    recorder = Recorder(failure, respond(body=GUEST))
    client = make_client(recorder)
    with pytest.raises((errors.ZenotiTimeoutError, errors.UpstreamUnavailableError)):
        client.create_guest(new_guest())
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        connect_refused,
        lambda request: (_ for _ in ()).throw(httpx.ConnectTimeout("timed out", request=request)),
        respond(429, {}, headers={"Retry-After": "1"}),
    ],
)
def test_writes_are_retried_when_zenoti_provably_did_nothing(make_client, failure):
    recorder = Recorder(failure, respond(body=GUEST))
    client = make_client(recorder)
    assert client.create_guest(new_guest()).id == "g-1"
    assert len(recorder.requests) == 2


def test_business_errors_are_not_retried(make_client):
    recorder = Recorder(respond(400, {"error": {"code": 502, "message": "Invalid center"}}))
    with pytest.raises(errors.NotFoundError):
        make_client(recorder).get_center(CENTER_ID)
    assert len(recorder.requests) == 1


def test_dns_failures_are_not_retried(make_client):
    def dns(request):
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    recorder = Recorder(dns)
    with pytest.raises(errors.UpstreamUnavailableError, match="DNS"):
        make_client(recorder).get_center(CENTER_ID)
    assert len(recorder.requests) == 1


def test_every_attempt_is_reported_without_key_guest_data_or_query_values(make_client, calls):
    recorder = Recorder(
        read_timeout,
        respond(200, {"guests": []}, headers={"RateLimit-Remaining": "41"}),
    )
    client = make_client(recorder)
    client.search_guests(CENTER_ID, email="jane@example.com", phone="+15551234567")
    timeout, ok = calls
    assert (
        timeout.method,
        timeout.path_template,
        timeout.status,
        timeout.outcome,
        timeout.attempt,
    ) == (
        "GET",
        "/guests/search",
        None,
        "timeout",
        1,
    )
    assert (ok.status, ok.outcome, ok.attempt, ok.ratelimit_remaining, ok.error_code) == (
        200,
        "ok",
        2,
        41,
        None,
    )
    assert ok.latency_ms >= 0
    text = repr(calls)
    for secret in (API_KEY, "jane", "example.com", "5551234567", CENTER_ID):
        assert secret not in text


def test_error_answers_are_reported_with_their_zenoti_code(make_client, calls):
    recorder = Recorder(respond(200, {"error": {"code": 4072, "message": "Select again"}}))
    with pytest.raises(errors.SlotUnavailableError):
        make_client(recorder).confirm_booking("b-1")
    [call] = calls
    assert (call.method, call.path_template, call.status, call.error_code, call.outcome) == (
        "POST",
        "/bookings/{booking_id}/slots/confirm",
        200,
        4072,
        "http_error",
    )


def test_network_errors_are_reported_as_such(make_client, calls):
    with pytest.raises(errors.UpstreamUnavailableError):
        make_client(Recorder(connect_refused), deadline=0.1).get_center(CENTER_ID)
    assert calls[0].outcome == "network_error"


def test_a_failing_on_call_hook_never_breaks_the_call(make_client):
    def broken_hook(record):
        raise RuntimeError("database is down")

    client = make_client(Recorder(respond(body=CENTER)), on_call=broken_hook)
    assert client.get_center(CENTER_ID).id == CENTER_ID


def test_an_answer_that_cannot_be_read_is_logged_as_a_failed_call(make_client, calls):
    recorder = Recorder(respond(200, {"center": {"name": "No id"}}))
    with pytest.raises(errors.UpstreamUnavailableError):
        make_client(recorder).get_center(CENTER_ID)
    [call] = calls
    assert (call.status, call.outcome, call.attempt) == (200, "http_error", 1)
    assert len(recorder.requests) == 1  # not retried: asking again gets the same answer
