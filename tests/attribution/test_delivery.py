"""attribution.delivery against a real HTTP receiver on 127.0.0.1: the retry schedule under a
stopped clock, what each kind of answer does (2xx, 3xx, 410, 429/503), the endpoint's health,
replays, the claim, the sweeper, and whole bookings through the funnel reaching an endpoint."""

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from attribution import delivery, outbox, sender, signing, tasks
from attribution.apps import ensure_schedules
from attribution.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from booking import funnel
from tenants.models import Membership, Role
from tests.booking.conftest import in_process_zenoti, sandbox_center, sandbox_lumen  # noqa: F401
from tests.booking.test_funnel import RETURN_URL, guest_at_details, lumen, widget  # noqa: F401
from tests.conftest import make_user

from .receiver import Receiver, verify

D = DeliveryState
START = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class Clock:
    """django.utils.timezone.now, stopped at `moment` until moved."""

    def __init__(self, monkeypatch, moment):
        self.moment = moment
        monkeypatch.setattr(timezone, "now", lambda: self.moment)

    def set(self, moment):
        self.moment = moment

    def advance(self, **delta):
        self.moment += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, START)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(org, receiver):
    return WebhookEndpoint.objects.create(
        organization=org,
        url=receiver.url,
        event_types=["booking_started", "booking_completed"],
    )


def emit(endpoint, event_type="booking_completed", **payload):
    """An event to `endpoint`, as the outbox writes it (its enqueue is not run here)."""
    event = outbox.emit_payload(
        endpoint.organization,
        event_type,
        {"type": event_type, "booking": {"session": "abc123"}, **payload},
        endpoints=[endpoint],
        now=timezone.now(),
    )
    return event.deliveries.get()


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def failing(status=500, headers=None):
    return (status, headers or {}, b"down for maintenance")


# --- the retry schedule ------------------------------------------------------------------


def test_an_always_failing_endpoint_is_tried_on_the_schedule_then_given_up(
    endpoint, receiver, clock
):
    receiver.reply = failing()
    sent = emit(endpoint)
    attempt_times = []
    while True:
        due = fresh(sent).next_attempt_at
        clock.set(due - timedelta(milliseconds=1))
        assert delivery.deliver(sent.pk) is None  # not due yet: nothing happens
        clock.set(due)
        attempt_times.append(due)
        state = delivery.deliver(sent.pk)
        if state != D.PENDING:
            break
    assert state == D.FAILED
    assert len(attempt_times) == len(delivery.RETRY_SCHEDULE) == 10
    assert attempt_times[0] == START
    for number, (before, after) in enumerate(zip(attempt_times, attempt_times[1:]), start=1):
        wait = (after - before).total_seconds()
        slot = delivery.RETRY_SCHEDULE[number]
        assert slot * (1 - delivery.JITTER) <= wait <= slot * (1 + delivery.JITTER)
    sent = fresh(sent)
    assert (sent.attempts, sent.last_status, sent.last_error) == (10, 500, "HTTP 500")
    assert sent.finished_at == attempt_times[-1] and sent.next_attempt_at is None
    assert list(sent.attempt_log.values_list("number", "status_code")) == [
        (n, 500) for n in range(1, 11)
    ]
    assert sent.attempt_log.first().response_excerpt == "down for maintenance"
    # Every attempt: the same id and body, a fresh timestamp, verified at its own moment.
    assert len(receiver.requests) == 10
    for got, moment in zip(receiver.requests, attempt_times):
        assert got.headers["webhook-id"] == sent.event.public_id
        assert got.headers["webhook-timestamp"] == str(int(moment.timestamp()))
        assert got.body == receiver.requests[0].body
        verify(endpoint.secret, got.body, got.headers, at=moment)
    endpoint = fresh(endpoint)
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (10, START)
    assert endpoint.enabled  # about three days of failures: not five yet


def test_the_jitter_spreads_retries_rather_than_adding_a_constant(endpoint, receiver, clock):
    receiver.reply = failing()
    waits = set()
    for _ in range(8):
        sent = emit(endpoint)
        delivery.deliver(sent.pk)
        waits.add(fresh(sent).next_attempt_at - START)
    assert len(waits) > 1
    for wait in waits:
        assert timedelta(seconds=5 * 0.85) <= wait <= timedelta(seconds=5 * 1.15)


def test_a_connection_error_is_a_failed_attempt_with_its_reason(endpoint, receiver, clock):
    receiver.close()  # nothing listens on the port any more
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.PENDING
    sent = fresh(sent)
    assert sent.last_status is None and sent.last_error == "connection refused"
    attempt = sent.attempt_log.get()
    assert (attempt.status_code, attempt.error) == (None, "connection refused")
    assert fresh(endpoint).consecutive_failures == 1


# --- what the answer means -----------------------------------------------------------------


def test_a_2xx_answer_is_delivered_and_the_endpoint_healthy_again(endpoint, receiver, clock):
    endpoint.consecutive_failures, endpoint.failing_since = 7, START - timedelta(days=1)
    endpoint.save()
    receiver.reply = (204, {}, b"")
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.SUCCEEDED
    sent = fresh(sent)
    assert (sent.state, sent.attempts, sent.last_status, sent.last_error) == (
        D.SUCCEEDED,
        1,
        204,
        "",
    )
    assert sent.finished_at == START and sent.claimed_until is None
    attempt = sent.attempt_log.get()
    assert attempt.status_code == 204 and attempt.latency_ms > 0
    endpoint = fresh(endpoint)
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)
    got = receiver.requests[0]
    assert got.method == "POST" and got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Chairfill-Webhooks/1"
    assert got.body == signing.payload_bytes(sent.event)
    assert verify(endpoint.secret, got.body, got.headers, at=START)["booking"] == {
        "session": "abc123"
    }


def test_a_redirect_is_a_failure_and_never_followed(endpoint, receiver, clock):
    receiver.reply = lambda got: (
        (301, {"location": "/elsewhere"}, b"") if got.path == "/hooks" else (200, {}, b"")
    )
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.PENDING
    assert [got.path for got in receiver.requests] == ["/hooks"]
    sent = fresh(sent)
    assert sent.last_status == 301
    assert sent.last_error == "Redirects are not followed (HTTP 301 to /elsewhere)"
    assert sent.attempt_log.get().error == sent.last_error
    assert fresh(endpoint).consecutive_failures == 1


def test_410_gone_switches_the_endpoint_off_and_fails_its_pending_deliveries(
    endpoint, receiver, clock, mailoutbox
):
    receiver.reply = (410, {}, b"gone")
    waiting = emit(endpoint)
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.FAILED
    endpoint = fresh(endpoint)
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "The endpoint answered 410 Gone"
    assert fresh(sent).last_status == 410
    waiting = fresh(waiting)
    assert (waiting.state, waiting.last_error, waiting.attempts) == (
        D.FAILED,
        "The endpoint answered 410 Gone",
        0,
    )
    assert len(receiver.requests) == 1
    assert mailoutbox == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(endpoint, receiver, clock, status):
    receiver.reply = failing(status, {"retry-after": "120"})
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.PENDING
    assert fresh(sent).next_attempt_at == START + timedelta(seconds=120)


def test_retry_after_as_an_http_date_is_honoured(endpoint, receiver, clock):
    receiver.reply = failing(
        429, {"retry-after": format_datetime(START + timedelta(hours=1), True)}
    )
    sent = emit(endpoint)
    delivery.deliver(sent.pk)
    assert fresh(sent).next_attempt_at == START + timedelta(hours=1)


def test_retry_after_never_pushes_a_retry_past_the_longest_wait(endpoint, receiver, clock):
    receiver.reply = failing(503, {"retry-after": str(30 * 86400)})
    sent = emit(endpoint)
    delivery.deliver(sent.pk)
    assert fresh(sent).next_attempt_at == START + timedelta(seconds=86400)


def test_retry_after_sooner_than_the_schedule_does_not_hurry_it(endpoint, receiver, clock):
    receiver.reply = failing(429, {"retry-after": "1"})
    sent = emit(endpoint)
    delivery.deliver(sent.pk)
    assert fresh(sent).next_attempt_at - START >= timedelta(seconds=5 * 0.85)


def test_retry_after_on_other_statuses_is_ignored(endpoint, receiver, clock):
    receiver.reply = failing(500, {"retry-after": "3600"})
    sent = emit(endpoint)
    delivery.deliver(sent.pk)
    assert fresh(sent).next_attempt_at - START <= timedelta(seconds=5 * 1.15)


def test_retry_after_values_are_read_as_seconds_or_dates():
    now = START
    assert delivery.retry_after("30", now) == 30
    assert delivery.retry_after(format_datetime(now + timedelta(minutes=2), True), now) == 120
    assert delivery.retry_after(format_datetime(now - timedelta(minutes=2), True), now) == 0
    for junk in (None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2025"):
        assert delivery.retry_after(junk, now) is None


# --- five days of failures -------------------------------------------------------------------


def test_five_days_of_failures_switch_the_endpoint_off_and_email_the_owners_once(
    org, owner, manager, endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    second_owner = make_user("otto@lumen.test", "Otto Owner")
    Membership.objects.create(organization=org, user=second_owner, role=Role.OWNER)
    receiver.reply = failing(502)
    first = emit(endpoint)
    delivery.deliver(first.pk)
    assert fresh(endpoint).failing_since == START

    clock.advance(days=5, seconds=-1)
    almost = emit(endpoint)
    delivery.deliver(almost.pk)
    assert fresh(endpoint).enabled

    clock.set(START + timedelta(days=5))
    last = emit(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(last.pk) == D.FAILED
    endpoint = fresh(endpoint)
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Every delivery failed for 5 days"
    assert endpoint.consecutive_failures == 3
    for pending in (first, almost):
        pending = fresh(pending)
        assert (pending.state, pending.last_error) == (D.FAILED, endpoint.disabled_reason)

    assert sorted(m.to[0] for m in mail.outbox) == ["otto@lumen.test", "owner@lumen.test"]
    message = mail.outbox[0]
    assert "switched off" in message.subject
    assert endpoint.url in message.body and "Every delivery failed for 5 days" in message.body
    assert "/app/lumen/webhooks/" in message.body
    html = message.alternatives[0]
    assert html.mimetype == "text/html" and endpoint.url in html.content

    # Later events to the endpoint fail at once, and nobody is emailed again.
    later = emit(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(later.pk) == D.FAILED
    later = fresh(later)
    assert later.last_error == "Every delivery failed for 5 days" and later.attempts == 0
    assert len(receiver.requests) == 3
    assert len(mail.outbox) == 2


def test_one_success_restarts_the_five_days(endpoint, receiver, clock):
    receiver.reply = failing()
    delivery.deliver(emit(endpoint).pk)
    clock.advance(days=3)
    receiver.reply = (200, {}, b"")
    delivery.deliver(emit(endpoint).pk)
    clock.advance(days=3)
    receiver.reply = failing()
    delivery.deliver(emit(endpoint).pk)
    endpoint = fresh(endpoint)
    assert endpoint.enabled and endpoint.failing_since == START + timedelta(days=6)


def test_a_delivery_to_a_switched_off_endpoint_fails_without_a_request(endpoint, receiver, clock):
    endpoint.enabled, endpoint.disabled_reason = False, "Switched off by Olivia"
    endpoint.save()
    sent = emit(endpoint)
    assert delivery.deliver(sent.pk) == D.FAILED
    sent = fresh(sent)
    assert (sent.last_error, sent.attempts, sent.finished_at) == (
        "Switched off by Olivia",
        0,
        START,
    )
    assert receiver.requests == [] and not WebhookAttempt.objects.exists()


# --- claims, duplicates and the sweeper --------------------------------------------------------


def test_the_sweeper_is_scheduled_every_minute_and_comes_back_when_deleted(db):
    sweeper = Schedule.objects.get(func="attribution.tasks.sweep_webhooks")
    assert (sweeper.schedule_type, sweeper.minutes) == (Schedule.MINUTES, 1)
    sweeper.delete()
    ensure_schedules()
    ensure_schedules()
    assert Schedule.objects.filter(func="attribution.tasks.sweep_webhooks").count() == 1


def test_a_duplicate_job_does_nothing(endpoint, receiver, clock):
    sent = emit(endpoint)
    assert tasks.deliver_webhook(sent.pk) == D.SUCCEEDED
    assert tasks.deliver_webhook(sent.pk) is None
    assert len(receiver.requests) == 1 and fresh(sent).attempts == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(endpoint, receiver, monkeypatch):
    # Outside a transaction the outbox's on-commit job would run (Q_SYNC) before the race.
    monkeypatch.setattr(outbox, "enqueue", lambda ids: None)
    sent = emit(endpoint)
    barrier = threading.Barrier(4)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(tasks.deliver_webhook(sent.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None, None, None, D.SUCCEEDED]
    assert len(receiver.requests) == 1
    assert fresh(sent).attempt_log.count() == 1


def test_a_delivery_another_worker_holds_is_left_alone(endpoint, receiver, clock):
    sent = emit(endpoint)
    WebhookDelivery.objects.filter(pk=sent.pk).update(claimed_until=START + timedelta(seconds=30))
    assert delivery.deliver(sent.pk) is None
    assert receiver.requests == []


def test_an_answer_arriving_after_the_claim_was_taken_over_only_logs_the_attempt(
    endpoint, receiver, clock, monkeypatch
):
    sent = emit(endpoint)
    real_send = sender.send

    def slow_send(*args, **kwargs):
        result = real_send(*args, **kwargs)
        # While this worker waited for the answer, its claim lapsed and another took over.
        WebhookDelivery.objects.filter(pk=sent.pk).update(claimed_until=START + timedelta(hours=1))
        return result

    monkeypatch.setattr(sender, "send", slow_send)
    delivery.deliver(sent.pk)
    sent = fresh(sent)
    assert (sent.state, sent.attempts) == (D.PENDING, 0)
    assert sent.attempt_log.get().status_code == 200


def test_the_sweeper_re_enqueues_a_delivery_whose_worker_died(endpoint, receiver, clock):
    stuck = emit(endpoint)
    # A worker claimed it, sent nothing we know of, and was killed.
    WebhookDelivery.objects.filter(pk=stuck.pk).update(claimed_until=START - timedelta(seconds=1))
    assert tasks.sweep_webhooks() == {"enqueued": 1, "stuck": 1}  # Q_SYNC: delivered at once
    assert fresh(stuck).state == D.SUCCEEDED
    assert [got.headers["webhook-id"] for got in receiver.requests] == [stuck.event.public_id]


def test_the_sweeper_enqueues_what_is_due_and_leaves_the_rest(endpoint, receiver, clock):
    receiver.reply = failing()
    retry_due = emit(endpoint)
    delivery.deliver(retry_due.pk)  # failed once; due again in about 5 s
    fresh_event = emit(endpoint)  # its own job was enqueued on commit a moment ago
    clock.advance(seconds=30)
    held = emit(endpoint)
    WebhookDelivery.objects.filter(pk=held.pk).update(
        attempts=1, claimed_until=START + timedelta(minutes=5)
    )
    later = emit(endpoint)
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=START + timedelta(hours=1))
    done = emit(endpoint)
    WebhookDelivery.objects.filter(pk=done.pk).update(state=D.SUCCEEDED)
    requests_before = len(receiver.requests)

    assert delivery.sweep() == {"enqueued": 1, "stuck": 0}
    assert [got.headers["webhook-id"] for got in receiver.requests[requests_before:]] == [
        retry_due.event.public_id
    ]
    # A new delivery whose job never ran (its enqueue was lost) is swept a minute later.
    clock.advance(seconds=31)
    assert delivery.sweep()["enqueued"] == 1
    assert receiver.requests[-1].headers["webhook-id"] == fresh_event.event.public_id


def test_the_sweeper_takes_a_bounded_batch(endpoint, receiver, clock, monkeypatch):
    enqueued = []
    monkeypatch.setattr(outbox, "enqueue", enqueued.extend)
    for _ in range(5):
        emit(endpoint)
    clock.advance(minutes=5)
    assert delivery.sweep(batch=3) == {"enqueued": 3, "stuck": 0}
    assert len(enqueued) == 3


# --- replays and test events ---------------------------------------------------------------------


def test_a_replay_is_a_new_delivery_with_the_same_webhook_id(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    sent = emit(endpoint)
    delivery.deliver(sent.pk)
    clock.advance(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        again = delivery.replay(sent)
    again = fresh(again)
    assert again.pk != sent.pk and again.replay_of_id == sent.pk
    assert again.event_id == sent.event_id and again.state == D.SUCCEEDED
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == sent.event.public_id
    assert first.body == second.body
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == (
        2 * 86400
    )
    verify(endpoint.secret, second.body, second.headers, at=clock.moment)


def test_a_test_event_reaches_only_its_endpoint(
    org, endpoint, receiver, django_capture_on_commit_callbacks
):
    other = WebhookEndpoint.objects.create(
        organization=org, url=receiver.url + "/other", event_types=["webhook.test"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = delivery.send_test(endpoint)
    sent = fresh(sent)
    assert sent.endpoint == endpoint and sent.state == D.SUCCEEDED
    assert not other.deliveries.exists()
    (got,) = receiver.requests
    payload = verify(endpoint.secret, got.body, got.headers)
    assert payload["type"] == "webhook.test" and payload["id"] == sent.event.public_id
    assert payload["organization"] == {"slug": "lumen", "name": org.public_name}
    assert payload["message"]


# --- the whole way: a booking through the funnel -----------------------------------------------


def test_a_booking_through_the_funnel_reaches_the_endpoint_signed(
    widget,  # noqa: F811 (the funnel tests' fixture, imported above)
    receiver,
    django_capture_on_commit_callbacks,
):
    endpoint = WebhookEndpoint.objects.create(
        organization=widget.organization,
        url=receiver.url,
        event_types=["booking_started", "booking_completed"],
    )
    uninterested = WebhookEndpoint.objects.create(
        organization=widget.organization, url=receiver.url, event_types=["booking_failed"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        session = guest_at_details(widget)
        assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
        assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(
            True, "done"
        )
    payloads = [verify(endpoint.secret, got.body, got.headers) for got in receiver.requests]
    assert [p["type"] for p in payloads] == ["booking_started", "booking_completed"]
    assert {p["booking"]["session"] for p in payloads} == {session.code}
    completed = payloads[1]
    session.refresh_from_db()
    assert completed["booking"]["zenoti"]["appointment_id"] == session.appointment_id
    assert completed["guest"]["email"] == "nina.newcomb@example.com"
    events = WebhookEvent.objects.filter(session=session).order_by("pk")
    assert [e.public_id for e in events] == [got.headers["webhook-id"] for got in receiver.requests]
    assert set(WebhookDelivery.objects.values_list("endpoint", "state")) == {
        (endpoint.pk, D.SUCCEEDED)
    }
    assert not uninterested.deliveries.exists()
