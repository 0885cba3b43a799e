"""Attribution and outgoing webhooks: the funnel's events, and the transactional outbox that
carries booking events to customers' endpoints (events, deliveries, attempts)."""

import base64
import secrets

from django.db import models
from django.utils import timezone

from booking.models import BookingSession, Widget
from tenants.crypto import EncryptedTextField
from tenants.models import Center, Organization, random_code


class FunnelEventName(models.TextChoices):
    WIDGET_VIEWED = "widget_viewed", "Widget viewed"
    SERVICE_SELECTED = "service_selected", "Service selected"
    PROVIDER_SELECTED = "provider_selected", "Provider selected"
    DATE_SELECTED = "date_selected", "Date selected"
    TIME_SELECTED = "time_selected", "Time selected"
    BOOKING_STARTED = "booking_started", "Booking started"
    BOOKING_COMPLETED = "booking_completed", "Booking completed"
    BOOKING_FAILED = "booking_failed", "Booking failed"
    BOOKING_ABANDONED = "booking_abandoned", "Booking abandoned"


class FunnelEvent(models.Model):
    """One step of one guest's funnel, with the session's attribution copied in (the last
    non-direct touch) so analytics never join back through the sessions."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(BookingSession, on_delete=models.CASCADE, related_name="events")
    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=24, choices=FunnelEventName.choices)
    center = models.ForeignKey(
        Center, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    service_id = models.CharField(max_length=64, blank=True)
    therapist_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=100, blank=True)
    medium = models.CharField(max_length=100, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    network = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Analytics: WHERE organization_id = %s AND created_at >= %s GROUP BY name, …
            models.Index(fields=["organization", "created_at"], name="funnelevent_org_time"),
        ]

    def __str__(self):
        return f"{self.name} ({self.session_id})"


# --- outgoing webhooks ----------------------------------------------------------------------


class WebhookEventType(models.TextChoices):
    BOOKING_STARTED = "booking_started", "Booking started"
    BOOKING_COMPLETED = "booking_completed", "Booking completed"
    BOOKING_FAILED = "booking_failed", "Booking failed"
    BOOKING_ABANDONED = "booking_abandoned", "Booking abandoned"


def webhook_secret():
    """A Standard Webhooks signing secret: "whsec_" + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_id():
    return "evt_" + secrets.token_hex(12)


class WebhookEndpoint(models.Model):
    """A customer's URL that hears about this organization's bookings."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    code = models.CharField(max_length=16, unique=True, default=random_code)
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)  # WebhookEventType values
    enabled = models.BooleanField(default=True)
    secret = EncryptedTextField(default=webhook_secret)
    # During a rotation the old secret signs too, until `previous_secret_until`.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    # Health: consecutive failed attempts, since when every attempt has failed, and why the
    # endpoint was switched off (410 Gone, five days of failures, or by a member).
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.url

    def __repr__(self):
        return f"<WebhookEndpoint {self.code} {self.url!r}>"  # never the secret

    def secrets_at(self, now=None):
        """The secrets a delivery is signed with now: the current one, and the previous one
        while a rotation's overlap lasts."""
        now = now or timezone.now()
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            keys.append(self.previous_secret)
        return keys

    def wants(self, event_type):
        return self.enabled and event_type in self.event_types


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the same transaction as the state change
    that caused it. Its public id is the `webhook-id` of every delivery and retry."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    public_id = models.CharField(max_length=40, unique=True, default=event_id)
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    session = models.ForeignKey(
        BookingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="webhookevent_org_recent")
        ]

    def __str__(self):
        return f"{self.type} {self.public_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its next attempt
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Gave up"  # every retry failed, or the endpoint was disabled


class WebhookDelivery(models.Model):
    """One event to one endpoint, until it succeeds or we give up. A replay is a new delivery
    of the same event (same webhook-id)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=16, unique=True, default=random_code)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # A worker attempting it holds it until then; past it, the sweeper takes it back.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper: WHERE state = 'pending' AND next_attempt_at <= now.
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            # The delivery log: one organization's deliveries, newest first.
            models.Index(fields=["organization", "-created_at"], name="delivery_org_recent"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, for the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"attempt {self.number}: {self.status_code or self.error}"
