"""Typed results of the Zenoti client: small frozen dataclasses, parsed from Zenoti's JSON by
booking.zenoti.parsing. Datetimes are naive and center-local, as Zenoti sends them."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# Appointment status integers used by Zenoti (webhooks and appointment reads).
STATUS_NO_SHOW = -2
STATUS_CANCELLED = -1
STATUS_BOOKED = 0
STATUS_CHECKED_IN = 2
STATUS_CONFIRMED = 4


@dataclass(frozen=True, slots=True)
class Center:
    id: str
    name: str
    code: str = ""
    display_name: str = ""
    time_zone: str | None = None  # IANA name, when Zenoti (or the sandbox) gives one
    time_zone_id: int | None = None  # Zenoti's numeric zone id
    phone: str = ""
    email: str = ""
    currency_id: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    code: str = ""
    description: str = ""
    duration: int = 0  # minutes
    recovery_time: int = 0  # minutes
    price: Decimal | None = None  # final price, tax included when the center says so
    currency_id: int | None = None
    category_id: str | None = None
    category_name: str = ""
    can_book: bool = False  # online booking enabled: only these are offered to guests
    show_in_catalog: bool = False
    is_couple_service: bool = False


@dataclass(frozen=True, slots=True)
class Therapist:
    id: str
    first_name: str = ""
    last_name: str = ""
    name: str = ""  # Zenoti's display name, else "first last"
    nick_name: str = ""
    code: str = ""
    gender: int | None = None
    job_name: str = ""


@dataclass(frozen=True, slots=True)
class Guest:
    id: str
    center_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone_country_id: int | None = None  # Zenoti's country id (225 = USA), not a dialing code
    phone_number: str = ""
    gender: int | None = None
    referral_source_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewGuest:
    """A guest to create. `phone` is E.164 ("+15551234567"); the client turns it into Zenoti's
    country id + national number."""

    center_id: str
    first_name: str
    last_name: str
    email: str = ""
    phone: str = ""
    referral_source_id: str | None = None
    gender: int = -1  # Zenoti: -1 not specified
    receive_marketing_email: bool = False
    receive_marketing_sms: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    time: datetime  # naive, center-local; a slot has no id, its time is its identity
    available: bool


@dataclass(frozen=True, slots=True)
class Slots:
    slots: list[Slot] = field(default_factory=list)
    future_days: list[date] = field(default_factory=list)  # days with availability
    next_available_day: date | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    expiry_time: datetime | None = None  # when the hold lapses (center-local)
    invoice_id: str | None = None  # with create_invoice=True


@dataclass(frozen=True, slots=True)
class BookedItem:
    appointment_id: str
    service_id: str | None = None
    service_name: str = ""
    therapist_id: str | None = None
    therapist_name: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Confirmation:
    invoice_id: str
    items: list[BookedItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    is_closed: bool
    total: Decimal
    paid: Decimal
    balance: Decimal
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentLink:
    hosted_payment_uri: str
    token_id: str


@dataclass(frozen=True, slots=True)
class Appointment:
    appointment_id: str
    invoice_id: str | None = None
    appointment_group_id: str | None = None
    service_id: str | None = None
    service_name: str = ""
    therapist_id: str | None = None
    therapist_name: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: int | None = None

    @property
    def is_cancelled(self):
        return self.status == STATUS_CANCELLED


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One HTTP attempt (or a call our budget refused), for the call log. Holds no key, no
    guest data and no query values: only the path template."""

    method: str
    path_template: str  # "/centers/{center_id}/services"
    status: int | None  # HTTP status; None when no answer came back
    error_code: int | None  # Zenoti's application error code, when there was one
    latency_ms: float
    attempt: int  # 1 for the first try, 2 for the first retry, …
    ratelimit_remaining: int | None  # RateLimit-Remaining from the answer
    outcome: str  # "ok" | "http_error" | "timeout" | "network_error" | "budget"
