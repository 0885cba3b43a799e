"""attribution.outbox: an event exists exactly when the transaction that caused it commits,
with one delivery per subscribed endpoint and a delivery job asked for only after commit."""

import pytest
from django.db import transaction

from attribution import outbox
from attribution.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


class Boom(Exception):
    pass


@pytest.fixture
def jobs(monkeypatch):
    """The django-q jobs the outbox asks for, as (func, args), instead of running them."""
    asked = []
    monkeypatch.setattr(outbox, "async_task", lambda func, *args, **kw: asked.append((func, args)))
    return asked


@pytest.fixture
def endpoints(org, other_org):
    def make(organization, types, enabled=True):
        return WebhookEndpoint.objects.create(
            organization=organization,
            url="https://hooks.example/in",
            event_types=types,
            enabled=enabled,
        )

    return {
        "completed": make(org, ["booking_completed"]),
        "both": make(org, ["booking_started", "booking_completed"]),
        "started_only": make(org, ["booking_started"]),
        "nothing": make(org, []),
        "disabled": make(org, ["booking_completed"], enabled=False),
        "other_org": make(other_org, ["booking_completed"]),
    }


def emit(org, event_type="booking_completed"):
    return outbox.emit_payload(org, event_type, {"type": event_type, "booking": {}})


def test_a_rolled_back_transaction_emits_nothing(
    org, endpoints, jobs, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        emit(org)
        raise Boom
    assert callbacks == []
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert jobs == []


def test_a_committed_transaction_emits_one_event_and_one_delivery_per_subscribed_endpoint(
    org, endpoints, jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            event = emit(org)
        assert jobs == []  # not before the commit
    (only,) = WebhookEvent.objects.all()
    assert only == event and event.type == "booking_completed"
    assert event.payload == {"type": "booking_completed", "booking": {}, "id": event.public_id}
    deliveries = WebhookDelivery.objects.filter(event=event)
    assert {d.endpoint_id for d in deliveries} == {
        endpoints["completed"].pk,
        endpoints["both"].pk,
    }
    assert {d.organization_id for d in deliveries} == {org.pk}
    assert all(d.state == "pending" and d.attempts == 0 for d in deliveries)
    assert len(callbacks) == 1
    callbacks[0]()
    assert sorted(jobs) == sorted(
        ("attribution.tasks.deliver_webhook", (d.pk,)) for d in deliveries
    )


def test_unsubscribed_disabled_and_other_tenants_endpoints_get_nothing(org, endpoints, jobs):
    event = emit(org, "booking_started")
    got = set(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True))
    assert got == {endpoints["both"].pk, endpoints["started_only"].pk}
    for name in ("completed", "nothing", "disabled", "other_org"):
        assert not endpoints[name].deliveries.exists()


def test_a_rollback_inside_a_committed_transaction_takes_only_its_own_event(
    org, endpoints, jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        kept = emit(org)
        with pytest.raises(Boom), transaction.atomic():
            emit(org, "booking_started")
            raise Boom
    assert list(WebhookEvent.objects.all()) == [kept]
    assert {args for _, args in jobs} == {
        (d.pk,) for d in WebhookDelivery.objects.filter(event=kept)
    }
    assert len(jobs) == 2


def test_an_organization_without_endpoints_still_records_the_event(org, jobs):
    event = emit(org)
    assert WebhookEvent.objects.get() == event
    assert not WebhookDelivery.objects.exists()
