"""The sandbox's own little Zenoti: organizations with API keys, rate-limit bucket and fault
knobs; centers, services, therapists and their schedules; guests, draft bookings with their
holds, appointments, invoices and hosted payments.

Times are stored as aware datetimes (UTC in the database); the API speaks center-local naive
datetimes, converted by `Center.local` / `Center.aware`.
"""

import json
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SHARE = [MinValueValidator(0.0), MaxValueValidator(1.0)]
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class SandboxOrganization(models.Model):
    """One Zenoti organization: its API keys share one rate-limit bucket and one set of faults."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    referral_required = models.BooleanField(
        default=False, help_text="Guest creation fails without a referral source."
    )

    # Rate limit: a token bucket refilled with `rate_limit` tokens per `rate_window_seconds`,
    # holding at most `rate_burst`. Zenoti's default is 60;w=60;b=60.
    rate_limit = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    rate_window_seconds = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    rate_burst = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    bucket_tokens = models.FloatField(null=True, blank=True)  # None = full
    bucket_checked_at = models.DateTimeField(null=True, blank=True)

    # Fault knobs. Shares are probabilities per request (0 = never, 1 = always).
    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0, validators=SHARE)
    hang_rate = models.FloatField(default=0.0, validators=SHARE)
    hang_seconds = models.FloatField(default=15.0, validators=[MinValueValidator(0.0)])
    rate_limited_rate = models.FloatField(default=0.0, validators=SHARE)
    steal_rate = models.FloatField(default=0.0, validators=SHARE)
    lose_response_rate = models.FloatField(default=0.0, validators=SHARE)
    business_errors_as_200 = models.BooleanField(default=False)
    fault_seed = models.IntegerField(default=0)
    # Counts API requests; with fault_seed it seeds each request's fault draws, so a test
    # sees the same faults on the same request every run.
    request_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def rate_limit_header(self):
        return f"{self.rate_limit};w={self.rate_window_seconds};b={self.rate_burst}"


class ApiKey(models.Model):
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="api_keys"
    )
    key = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return self.label or self.key


class ReferralSource(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="referral_sources"
    )
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Center(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="centers"
    )
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, help_text="IANA zone, e.g. America/New_York")
    time_zone_id = models.PositiveIntegerField(help_text="Zenoti's numeric time zone id")
    currency_id = models.PositiveIntegerField(default=148)  # Zenoti's id for USD
    currency_code = models.CharField(max_length=3, default="USD")
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    takes_online_payment = models.BooleanField(default=False)
    slot_interval_minutes = models.PositiveIntegerField(default=15)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self):
        return ZoneInfo(self.time_zone)

    def local(self, moment):
        """Aware datetime -> naive center-local datetime (what the API shows)."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def aware(self, naive):
        """Naive center-local datetime -> aware datetime."""
        return naive.replace(tzinfo=self.zone)

    def hours_summary(self):
        """Opening hours with runs of days alike grouped: ["Tue–Fri 09:00–20:00", …]."""
        runs = []
        for hours in self.hours.all():
            span = f"{hours.opens:%H:%M}–{hours.closes:%H:%M}"
            if runs and runs[-1][2] == span and runs[-1][1] == hours.weekday - 1:
                runs[-1][1] = hours.weekday
            else:
                runs.append([hours.weekday, hours.weekday, span])
        names = dict(WEEKDAYS)
        return [
            f"{names[first]}{'' if last == first else '–' + names[last]} {span}"
            for first, last, span in runs
        ]


class OpeningHours(models.Model):
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday"]
        constraints = [
            # A center has one opening window a day; a missing day means closed.
            models.UniqueConstraint(fields=["center", "weekday"], name="sandbox_hours_one_per_day")
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="categories"
    )
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Service(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="services"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    centers = models.ManyToManyField(Center, related_name="services")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration = models.PositiveIntegerField(help_text="minutes")
    recovery_time = models.PositiveIntegerField(default=0, help_text="minutes blocked after")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    tax_percent = models.DecimalField(max_digits=5, decimal_places=3, default=Decimal("0"))
    can_book = models.BooleanField(default=True, help_text="Bookable online")
    show_in_catalog = models.BooleanField(default=True)

    class Meta:
        ordering = ["category__name", "name"]

    def __str__(self):
        return self.name

    @property
    def tax(self):
        return (self.price * self.tax_percent / 100).quantize(Decimal("0.01"))

    @property
    def final_price(self):
        return self.price + self.tax


class Therapist(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="therapists")
    code = models.CharField(max_length=20)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    nick_name = models.CharField(max_length=100, blank=True)
    gender = models.SmallIntegerField(default=-1)  # Zenoti: -1 unknown, 0 female, 1 male
    job_name = models.CharField(max_length=100)
    services = models.ManyToManyField(Service, related_name="therapists")

    class Meta:
        ordering = ["first_name", "last_name"]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"


class Shift(models.Model):
    """A therapist's weekly working hours on one weekday."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday"]
        constraints = [
            models.UniqueConstraint(
                fields=["therapist", "weekday"], name="sandbox_shift_one_per_day"
            )
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class DayOff(models.Model):
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="days_off")
    date = models.DateField()

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["therapist", "date"], name="sandbox_day_off_unique")
        ]

    def __str__(self):
        return f"{self.therapist} off on {self.date}"


class Guest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="guests"
    )
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="guests")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone_country_id = models.PositiveIntegerField(null=True, blank=True)
    phone_number = models.CharField(max_length=30, blank=True)
    gender = models.SmallIntegerField(default=-1)
    receive_marketing_email = models.BooleanField(default=False)
    receive_marketing_sms = models.BooleanField(default=False)
    referral_source = models.ForeignKey(
        ReferralSource, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "Open"
        CLOSED = "Closed"  # paid in full
        CANCELLED = "Cancelled"
        VOID = "Void"  # a reservation's temporary invoice whose hold lapsed

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="invoices"
    )
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="invoices")
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="invoices")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status, default=Status.OPEN)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    tax = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    paid = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    comments = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invoice {self.number}"

    @property
    def balance(self):
        return max(self.total - self.paid, Decimal("0"))

    @property
    def is_closed(self):
        return self.status != self.Status.OPEN


class Booking(models.Model):
    """A draft booking (`POST /bookings`), its current hold, and once confirmed its invoice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="bookings"
    )
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="bookings")
    date = models.DateField()
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, null=True, blank=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    therapist = models.ForeignKey(
        Therapist, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )  # None = anyone qualified
    created_at = models.DateTimeField()

    # The hold made by reserve: therapist time [hold_start, hold_end) incl. recovery.
    reservation_id = models.UUIDField(null=True, blank=True)
    hold_therapist = models.ForeignKey(
        Therapist, on_delete=models.CASCADE, null=True, blank=True, related_name="holds"
    )
    hold_start = models.DateTimeField(null=True, blank=True)
    hold_end = models.DateTimeField(null=True, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)

    # Temporary at reserve (create_invoice), or made at confirm.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    group_name = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # Live holds of a therapist (slot computation, overlap checks).
            models.Index(
                fields=["hold_therapist", "hold_expires_at"], name="sandbox_booking_live_hold"
            )
        ]

    def __str__(self):
        return f"Booking {self.id}"

    def hold_is_live(self, now):
        return self.hold_expires_at is not None and self.hold_expires_at > now


class Appointment(models.Model):
    class Status(models.IntegerChoices):
        NO_SHOW = -2, "No-show"
        CANCELLED = -1, "Cancelled"
        BOOKED = 0, "Booked"
        CHECKED_IN = 2, "Checked in"
        CONFIRMED = 4, "Confirmed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    group_id = models.UUIDField(default=uuid.uuid4)
    organization = models.ForeignKey(
        SandboxOrganization, on_delete=models.CASCADE, related_name="appointments"
    )
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="appointments")
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="appointments")
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    invoice_item_id = models.UUIDField(default=uuid.uuid4)
    start = models.DateTimeField()
    end = models.DateTimeField()
    blocked_until = models.DateTimeField(help_text="end plus the service's recovery time")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.SmallIntegerField(choices=Status, default=Status.BOOKED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["start"]
        indexes = [
            # A therapist's appointments around a time (slot computation, overlap checks).
            models.Index(fields=["therapist", "start"], name="sandbox_appt_therapist_start")
        ]

    def __str__(self):
        return f"{self.service} with {self.therapist} at {self.start}"

    @property
    def blocks_time(self):
        return self.status != self.Status.CANCELLED


class Payment(models.Model):
    """A hosted-payment session created by `online_payments`; its token is the page's URL."""

    class Status(models.TextChoices):
        PENDING = "pending"
        AUTHENTICATING = "authenticating"  # waiting for the 3-D Secure step
        SUCCEEDED = "succeeded"

    token = models.UUIDField(primary_key=True, default=uuid.uuid4)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    redirect_uri = models.URLField(max_length=2000)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Payment {self.token}"


class ReceivedWebhook(models.Model):
    """A webhook Chairfill sent to the sandbox's receiver (/sandbox/receiver/): the demo's
    stand-in for a customer's endpoint, which checks each signature as a customer would."""

    received_at = models.DateTimeField(auto_now_add=True)
    webhook_id = models.CharField(max_length=100, blank=True)
    event_type = models.CharField(max_length=40, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    verified = models.BooleanField(default=False)
    verify_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self):
        return f"{self.event_type or 'webhook'} {self.webhook_id}"

    @property
    def payload(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}
