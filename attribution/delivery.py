"""Delivering webhook events: one HTTP attempt per job on our own retry schedule, the
endpoint's health (410 Gone and five failing days switch it off), the sweeper that re-enqueues
due and stuck deliveries, replays and test events.

A job claims its delivery with a conditional UPDATE first, so a duplicate job does nothing.
No transaction is open during the HTTP call; everything it changes is written afterwards in
one short transaction, which locks the endpoint before any delivery (one lock order, no
deadlocks between workers writing results for the same endpoint)."""

import logging
import random
from datetime import timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from attribution import outbox, sender, signing
from attribution.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from attribution.payloads import SCHEMA_VERSION
from tenants.models import Membership, Role

log = logging.getLogger(__name__)

PENDING, SUCCEEDED, FAILED = DeliveryState.PENDING, DeliveryState.SUCCEEDED, DeliveryState.FAILED

# Seconds before the next attempt once a delivery has had n attempts: immediately, 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. After the tenth attempt (about 3 days) it failed.
RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# Each wait is stretched or shrunk by up to this fraction, so an endpoint coming back after
# an outage is not hit by every retry in the same second.
JITTER = 0.15
TIMEOUT = 15.0
# A claim outlives the HTTP timeout by this much; past it, the worker is taken for dead and
# the sweeper hands the delivery to another one.
CLAIM_MARGIN = timedelta(seconds=45)
FAILING_FOR = timedelta(days=5)
SWEEP_BATCH = 500
# A new delivery's first attempt is enqueued when its event commits; the sweeper steps in
# only when that job has not run this long after (enqueue lost, queue backed up).
FIRST_ATTEMPT_GRACE = timedelta(seconds=60)

GONE_REASON = "The endpoint answered 410 Gone"
FAILING_REASON = "Every delivery failed for 5 days"
DISABLED_REASON = "The endpoint is disabled"
TEST_EVENT = "webhook.test"
TEST_MESSAGE = (
    "A test event from Chairfill. If you can read this and its signature verifies, "
    "the endpoint is ready."
)


def deliver(delivery_id):
    """One attempt of one delivery, if it is due and nobody else holds it. Returns the
    delivery's state afterwards, or None when there was nothing to do."""
    now = timezone.now()
    claim = now + timedelta(seconds=TIMEOUT) + CLAIM_MARGIN
    claimed = WebhookDelivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id,
        state=PENDING,
        next_attempt_at__lte=now,
    ).update(claimed_until=claim)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk, claimed_until=claim).update(
            state=FAILED,
            last_error=endpoint.disabled_reason or DISABLED_REASON,
            claimed_until=None,
            next_attempt_at=None,
            finished_at=now,
        )
        return FAILED

    body = signing.payload_bytes(event)
    headers = signing.headers(event, body, endpoint.secrets_at(now), now)
    try:
        result, error = sender.send(endpoint.url, body, headers, timeout=TIMEOUT), ""
    except sender.SendError as exc:
        result, error = None, str(exc.reason)
    return _record(delivery, claim, result, error)


def _record(delivery, claim, result, error):
    """Write one attempt's outcome: the attempt row, the endpoint's health and the delivery's
    next step, in one transaction."""
    done = timezone.now()
    number = delivery.attempts + 1
    status = result.status if result is not None else None
    succeeded = status is not None and 200 <= status < 300
    if status is not None and 300 <= status < 400:
        location = _header(result.headers, "location")
        error = f"Redirects are not followed (HTTP {status} to {location or 'nowhere'})"[:300]
    with transaction.atomic():
        endpoint_qs = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        disabled_reason = ""
        if succeeded:
            endpoint_qs.filter(
                Q(consecutive_failures__gt=0) | Q(failing_since__isnull=False)
            ).update(consecutive_failures=0, failing_since=None)
        else:
            endpoint_qs.update(
                consecutive_failures=F("consecutive_failures") + 1,
                failing_since=Coalesce(F("failing_since"), Value(done)),
            )
            if status == 410:
                disabled_reason = GONE_REASON
            elif endpoint_qs.filter(failing_since__lte=done - FAILING_FOR).exists():
                disabled_reason = FAILING_REASON
            if disabled_reason and not endpoint_qs.filter(enabled=True).update(
                enabled=False, disabled_reason=disabled_reason
            ):
                disabled_reason = ""  # someone switched it off first; they said why
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=status,
            latency_ms=result.latency_ms if result is not None else None,
            response_excerpt=(result.excerpt or "")[:500] if result is not None else "",
            error=error[:300],
            created_at=done,
        )
        fields = {
            "attempts": number,
            "last_status": status,
            "last_error": (error or (f"HTTP {status}" if not succeeded else ""))[:300],
            "claimed_until": None,
        }
        if succeeded:
            fields.update(state=SUCCEEDED, next_attempt_at=None, finished_at=done)
        elif disabled_reason or number >= len(RETRY_SCHEDULE):
            fields.update(state=FAILED, next_attempt_at=None, finished_at=done)
        else:
            fields["next_attempt_at"] = done + _wait(number, status, result)
        # Our claim may have lapsed and another worker taken over (or the endpoint been
        # switched off meanwhile): then only the attempt row is ours to write.
        ours = WebhookDelivery.objects.filter(
            pk=delivery.pk, state=PENDING, claimed_until=claim
        ).update(**fields)
        if disabled_reason:
            _fail_pending(delivery.endpoint_id, disabled_reason, done)
            log.warning("webhook endpoint %s disabled: %s", delivery.endpoint_id, disabled_reason)
            if disabled_reason == FAILING_REASON:
                endpoint_id = delivery.endpoint_id
                transaction.on_commit(lambda: notify_owners(endpoint_id), robust=True)
    return fields.get("state", PENDING) if ours else None


def _wait(attempts, status, result):
    """How long to wait after `attempts` failed attempts: the schedule's slot, jittered, or
    longer when a 429/503 asked for it with Retry-After (never past the schedule's longest)."""
    slot = RETRY_SCHEDULE[attempts]
    seconds = slot * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (jitter, not crypto)
    if status in (429, 503):
        asked = retry_after(_header(result.headers, "retry-after"))
        if asked is not None:
            seconds = min(max(seconds, asked), max(RETRY_SCHEDULE))
    return timedelta(seconds=seconds)


def retry_after(value, now=None):
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date), or None."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or timezone.now())).total_seconds())


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _fail_pending(endpoint_id, reason, now):
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, state=PENDING).update(
        state=FAILED, last_error=reason, claimed_until=None, next_attempt_at=None, finished_at=now
    )


def notify_owners(endpoint_id):
    """Tell the organization's owners that their endpoint was switched off."""
    endpoint = WebhookEndpoint.objects.select_related("organization").get(pk=endpoint_id)
    organization = endpoint.organization
    owners = Membership.objects.filter(organization=organization, role=Role.OWNER).select_related(
        "user"
    )
    link = settings.SITE_URL + reverse("attribution-webhooks", args=[organization.slug])
    sent = 0
    for membership in owners:
        ctx = {
            "user": membership.user,
            "organization": organization,
            "endpoint": endpoint,
            "reason": endpoint.disabled_reason,
            "link": link,
            "site_url": settings.SITE_URL,
        }
        subject = "".join(
            render_to_string("attribution/email/endpoint_disabled_subject.txt", ctx).splitlines()
        )
        message = EmailMultiAlternatives(
            subject,
            render_to_string("attribution/email/endpoint_disabled.txt", ctx),
            to=[membership.user.email],
        )
        message.attach_alternative(
            render_to_string("attribution/email/endpoint_disabled.html", ctx), "text/html"
        )
        sent += message.send()
    return sent


def sweep(*, batch=SWEEP_BATCH):
    """Every minute: enqueue deliveries that are due and nobody holds, and those whose
    worker's claim lapsed (it was killed). Duplicates are harmless: the claim lets one
    through. Returns how many were enqueued, and how many of them were stuck."""
    now = timezone.now()
    rows = list(
        WebhookDelivery.objects.filter(state=PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(
            attempts=0,
            claimed_until__isnull=True,
            next_attempt_at__gt=now - FIRST_ATTEMPT_GRACE,
        )
        .order_by("next_attempt_at")
        .values_list("pk", "claimed_until")[:batch]
    )
    outbox.enqueue([pk for pk, _ in rows])
    return {"enqueued": len(rows), "stuck": sum(1 for _, claim in rows if claim is not None)}


@transaction.atomic
def replay(delivery):
    """Deliver `delivery`'s event to its endpoint again: a new delivery, same webhook-id."""
    now = timezone.now()
    copy = WebhookDelivery.objects.create(
        organization_id=delivery.organization_id,
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        replay_of=delivery,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: outbox.enqueue([copy.pk]))
    return copy


@transaction.atomic
def send_test(endpoint):
    """A "webhook.test" event delivered to this endpoint only."""
    organization = endpoint.organization
    now = timezone.now()
    payload = {
        "type": TEST_EVENT,
        "version": SCHEMA_VERSION,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "message": TEST_MESSAGE,
        "organization": {"slug": organization.slug, "name": organization.public_name},
    }
    event = outbox.emit_payload(organization, TEST_EVENT, payload, endpoints=[endpoint], now=now)
    return event.deliveries.get()
