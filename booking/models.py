"""Booking models: widgets, booking sessions (the guest funnel's state machine) and the Zenoti
call log behind the API health page."""

import secrets
import zoneinfo
from datetime import timedelta

from django.db import models
from django.utils import timezone

from tenants.models import Center, Organization, color_validator, random_code


class CallOutcome(models.TextChoices):
    OK = "ok", "OK"
    HTTP_ERROR = "http_error", "HTTP error"
    TIMEOUT = "timeout", "Timeout"
    NETWORK_ERROR = "network_error", "Network error"
    # Our own shared budget refused the call: nothing was sent to Zenoti.
    BUDGET = "budget", "Held back by the budget"


# Attempts that reached (or tried to reach) Zenoti and failed. A budget refusal is no error of
# Zenoti's: the health page counts those separately.
ERROR_OUTCOMES = (CallOutcome.HTTP_ERROR, CallOutcome.TIMEOUT, CallOutcome.NETWORK_ERROR)


class ZenotiCall(models.Model):
    """One HTTP attempt against Zenoti (a retried call leaves one row per attempt).

    Only what the health page needs: never the API key, query strings, ids or any guest data —
    the path is the template (`/guests/{guest_id}/appointments`), not the URL.
    """

    # The composite index below leads with organization, so the foreign key needs no own index.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    center = models.ForeignKey(Center, on_delete=models.SET_NULL, null=True, related_name="+")
    method = models.CharField(max_length=8)
    path_template = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    attempt = models.PositiveSmallIntegerField(default=1)
    ratelimit_remaining = models.IntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices)
    # Indexed on its own for the retention job: DELETE … WHERE created_at < cutoff.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            # The API health page: WHERE organization_id = %s AND created_at >= %s
            # (window totals, per-center figures, the hourly chart) and
            # ORDER BY created_at DESC for the latest errors and remaining budget.
            models.Index(fields=["organization", "-created_at"], name="zenoticall_org_recent"),
        ]

    def __str__(self):
        return f"{self.method} {self.path_template} → {self.status or self.outcome}"

    @property
    def is_error(self):
        return self.outcome in ERROR_OUTCOMES


def session_code():
    """A booking session's public code. It is the guest's only key to their booking (the
    session travels in the URL, not a cookie), so it is long and random: 128 bits."""
    return secrets.token_urlsafe(16)


class Widget(models.Model):
    """A booking widget of an organization: what it offers, how it looks, where it may be
    embedded. Its code is public (embed snippets, direct links)."""

    class Mode(models.TextChoices):
        INLINE = "inline", "Inline on the page"
        POPUP = "popup", "Popup button"
        LINK = "link", "Direct link"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="widgets")
    code = models.CharField(max_length=16, unique=True, default=random_code)
    name = models.CharField(max_length=80)
    # Empty means every enabled center of the organization.
    centers = models.ManyToManyField(Center, blank=True, related_name="widgets")
    # Zenoti ids; both empty means every service bookable online.
    service_ids = models.JSONField(default=list, blank=True)
    category_ids = models.JSONField(default=list, blank=True)
    allow_provider_choice = models.BooleanField("guests may pick a provider", default=True)
    # Branding overrides; blank falls back to the organization's branding.
    brand_color = models.CharField(max_length=7, blank=True, validators=[color_validator])
    accent_color = models.CharField(max_length=7, blank=True, validators=[color_validator])
    logo_url = models.URLField("logo URL", max_length=500, blank=True)
    button_text = models.CharField(max_length=40, default="Book now")
    headline = models.CharField(max_length=120, blank=True)
    thank_you_text = models.TextField("thank-you text", max_length=1000, blank=True)
    thank_you_url = models.URLField("thank-you redirect URL", max_length=500, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.INLINE)
    # Origins ("https://salon.example") allowed to frame the funnel: frame-ancestors and the
    # postMessage target. Empty: the widget works as a direct link only.
    allowed_origins = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def brand(self):
        return self.brand_color or self.organization.brand_color

    @property
    def accent(self):
        return self.accent_color or self.organization.accent_color

    @property
    def logo(self):
        return self.logo_url or self.organization.logo_url

    def offers(self, service):
        """Whether the widget offers this (bookable) Zenoti service."""
        if not (self.service_ids or self.category_ids):
            return True
        ids = {i.lower() for i in self.service_ids}
        categories = {i.lower() for i in self.category_ids}
        return service.id.lower() in ids or (service.category_id or "").lower() in categories


class BookingState(models.TextChoices):
    BROWSING = "browsing", "Browsing"
    DETAILS = "details", "Details given"
    HELD = "held", "Time held"
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    ABANDONED = "abandoned", "Abandoned"


S = BookingState
# The allowed transitions of a booking session; everything else is refused.
TRANSITIONS = {
    S.BROWSING: {S.DETAILS, S.ABANDONED},
    # Back to browsing: the guest picks another time (or theirs was taken).
    S.DETAILS: {S.BROWSING, S.DETAILS, S.HELD, S.FAILED, S.ABANDONED},
    # Back to details: the guest changed them on the review step (the hold is made again).
    S.HELD: {S.BROWSING, S.DETAILS, S.HELD, S.AWAITING_PAYMENT, S.CONFIRMED, S.FAILED, S.EXPIRED},
    S.AWAITING_PAYMENT: {S.BROWSING, S.HELD, S.CONFIRMED, S.FAILED, S.EXPIRED},
    S.CONFIRMED: set(),
    S.FAILED: set(),
    S.EXPIRED: set(),
    S.ABANDONED: set(),
}
OPEN_STATES = (S.BROWSING, S.DETAILS, S.HELD, S.AWAITING_PAYMENT)


class BookingSession(models.Model):
    """One guest's way through a widget's funnel, from the first page to the confirmed
    appointment (or not). Holds the guest's choices, the Zenoti ids of every step, and a short
    lease (`busy_until`) taken while a request talks to Zenoti for it, so two tabs or a double
    click never book twice."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="booking_sessions"
    )
    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="sessions")
    code = models.CharField(max_length=32, unique=True, default=session_code)
    state = models.CharField(max_length=20, choices=BookingState.choices, default=S.BROWSING)

    # The guest's choices.
    center = models.ForeignKey(Center, null=True, blank=True, on_delete=models.SET_NULL)
    service_id = models.CharField(max_length=64, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Blank with provider_chosen: the guest asked for anyone.
    therapist_id = models.CharField(max_length=64, blank=True)
    therapist_name = models.CharField(max_length=200, blank=True)
    provider_chosen = models.BooleanField(default=False)
    day = models.DateField(null=True, blank=True)
    # The chosen time: an instant; Zenoti's naive center-local form is `local_start`.
    starts_at = models.DateTimeField(null=True, blank=True)

    # The guest.
    first_name = models.CharField(max_length=60, blank=True)
    last_name = models.CharField(max_length=60, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True)  # E.164
    marketing_consent = models.BooleanField(default=False)
    notes = models.TextField(max_length=500, blank=True)
    guest_timezone = models.CharField(max_length=64, blank=True)  # reported by the browser

    # Where the guest came from: landing URL, referrer, host page, parameters and cookies the
    # embed loader handed over.
    landing = models.JSONField(default=dict, blank=True)
    referral_source_id = models.CharField(max_length=64, blank=True)
    # Attribution (attribution.touches): the first non-direct visit, locked once set, and the
    # last non-direct one; each {"at", "landing_url", "host_url", "referrer", "params",
    # "cookies", "source", "medium", "campaign", "network", "device"}.
    first_touch = models.JSONField(default=dict, blank=True)
    last_touch = models.JSONField(default=dict, blank=True)
    first_touch_at = models.DateTimeField(null=True, blank=True)

    # Zenoti's side, step by step.
    zenoti_guest_id = models.CharField(max_length=64, blank=True)
    zenoti_booking_id = models.CharField(max_length=64, blank=True)
    reservation_id = models.CharField(max_length=64, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    invoice_id = models.CharField(max_length=64, blank=True)
    appointment_id = models.CharField(max_length=64, blank=True)
    payment_token = models.CharField(max_length=64, blank=True)
    payment_url = models.URLField(max_length=1000, blank=True)
    amount_paid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    # The lease: a request (or job) talking to Zenoti for this session until then.
    busy_until = models.DateTimeField(null=True, blank=True)
    # A confirm that may or may not have gone through (timeout, lost answer): the sweeper
    # looks the appointment up in Zenoti until it knows.
    confirm_uncertain = models.BooleanField(default=False)
    reserve_attempts = models.PositiveSmallIntegerField(default=0)
    confirm_attempts = models.PositiveSmallIntegerField(default=0)
    payment_attempts = models.PositiveSmallIntegerField(default=0)
    # What went wrong last, in the guest's words (shown once on the next page).
    problem = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)  # details submitted
    held_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # failed, expired or abandoned
    email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper: WHERE state IN (…open…) AND updated_at < cutoff / hold_expires_at < now.
            models.Index(fields=["state", "updated_at"], name="bookingsession_state_updated"),
            # Owner pages: one organization's sessions, newest first.
            models.Index(fields=["organization", "-created_at"], name="bookingsession_org_recent"),
        ]

    def __str__(self):
        return f"{self.code} ({self.state})"

    def can_move_to(self, state):
        return state in TRANSITIONS[self.state]

    @property
    def is_open(self):
        return self.state in OPEN_STATES

    @property
    def center_zone(self):
        return zoneinfo.ZoneInfo(self.center.timezone)

    @property
    def local_start(self):
        """The chosen time as Zenoti wants it: naive, center-local."""
        if self.starts_at is None:
            return None
        return self.starts_at.astimezone(self.center_zone).replace(tzinfo=None)

    @property
    def local_end(self):
        if self.starts_at is None or not self.duration_minutes:
            return None
        return self.local_start + timedelta(minutes=self.duration_minutes)

    @property
    def ends_at(self):
        if self.starts_at is None or not self.duration_minutes:
            return None
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def hold_seconds_left(self, now=None):
        if self.hold_expires_at is None:
            return 0
        return max(0, int((self.hold_expires_at - (now or timezone.now())).total_seconds()))

    @property
    def guest_name(self):
        return f"{self.first_name} {self.last_name}".strip()
