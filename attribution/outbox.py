"""The transactional outbox: `emit` writes an event and one delivery per subscribed endpoint
in the caller's transaction, and asks for delivery once that transaction commits. If the
transaction rolls back, nothing was emitted; if the worker dies, the sweeper finds the
delivery still pending (attribution.delivery)."""

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from attribution.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from attribution.payloads import booking_payload


def emit(session, event_type, *, now=None):
    """Record `event_type` for this booking session. Call it inside the transaction of the
    state change that causes it."""
    now = now or timezone.now()
    payload = booking_payload(session, event_type, now=now)
    return emit_payload(session.organization, event_type, payload, session=session, now=now)


def emit_payload(organization, event_type, payload, *, session=None, endpoints=None, now=None):
    """An event with a ready payload (the payload's "id" is the event's public id), delivered
    to `endpoints` (default: the organization's enabled endpoints subscribed to the type)."""
    now = now or timezone.now()
    event = WebhookEvent(
        organization=organization, type=event_type, session=session, created_at=now
    )
    event.payload = {**payload, "id": event.public_id}
    event.save()
    if endpoints is None:
        endpoints = [
            e
            for e in WebhookEndpoint.objects.filter(organization=organization, enabled=True)
            if e.wants(event_type)
        ]
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization=organization, event=event, endpoint=e, next_attempt_at=now, created_at=now
        )
        for e in endpoints
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: enqueue(ids))
    return event


def enqueue(delivery_ids):
    for delivery_id in delivery_ids:
        async_task(
            "attribution.tasks.deliver_webhook",
            delivery_id,
            task_name=f"webhook-delivery-{delivery_id}",
            group="webhooks",
        )
