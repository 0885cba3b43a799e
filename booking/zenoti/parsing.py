"""Tolerant reading of Zenoti's JSON into booking.zenoti.types.

Zenoti mixes snake_case and PascalCase (`page_Info`, `Time`, `FirstName`) and misspells some
fields, so keys are matched ignoring case and underscores. Unknown fields are ignored; a missing
or malformed required field raises UpstreamUnavailableError naming the call and the field,
never KeyError or TypeError.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from . import types
from .errors import UpstreamUnavailableError

_MISSING = object()


def _norm(key):
    return key.replace("_", "").replace("-", "").lower()


def lookup(obj, *names, default=None):
    """The first of `names` present in the dict `obj` (case- and underscore-insensitive)."""
    if not isinstance(obj, dict):
        return default
    for name in names:
        value = obj.get(name, _MISSING)
        if value is not _MISSING:
            return value
    wanted = [_norm(name) for name in names]
    by_norm = {_norm(k): v for k, v in obj.items() if isinstance(k, str)}
    for name in wanted:
        value = by_norm.get(name, _MISSING)
        if value is not _MISSING:
            return value
    return default


class Reader:
    """Reads fields of one answer; `what` names the call ("GET /centers") in error messages."""

    def __init__(self, what):
        self.what = what

    def broken(self, detail):
        return UpstreamUnavailableError(
            f"Zenoti's answer to {self.what} {detail}. Zenoti may have changed its API; "
            "if this keeps happening, tell Chairfill support."
        )

    def _get(self, obj, names, required):
        value = lookup(obj, *names)
        if value is None and required:
            raise self.broken(f"is missing the field '{names[0]}'")
        return value

    def has(self, obj, *names):
        return lookup(obj, *names, default=_MISSING) is not _MISSING

    def obj(self, obj, *names, required=True):
        value = self._get(obj, names, required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.broken(f"has an unexpected value for '{names[0]}'")
        return value

    def list(self, obj, *names, required=True):
        """A list of objects; with `required`, the key must be there (null counts as empty)."""
        if required and not self.has(obj, *names):
            raise self.broken(f"is missing the field '{names[0]}'")
        value = lookup(obj, *names)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.broken(f"has an unexpected value for '{names[0]}'")
        if not all(isinstance(item, dict) for item in value):
            raise self.broken(f"has an unexpected value in '{names[0]}'")
        return value

    def str(self, obj, *names, required=False, default=""):
        value = self._get(obj, names, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.broken(f"has an unexpected value for '{names[0]}'")
        value = str(value).strip()
        if not value and required:
            raise self.broken(f"is missing the field '{names[0]}'")
        return value

    def opt_str(self, obj, *names):
        return self.str(obj, *names, default=None) or None

    def int(self, obj, *names, required=False, default=None):
        value = self._get(obj, names, required)
        if value is None or value == "":
            return default
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        except (TypeError, ValueError, OverflowError):
            raise self.broken(f"has an unexpected value for '{names[0]}'") from None

    def bool(self, obj, *names, required=False, default=False):
        value = self._get(obj, names, required)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise self.broken(f"has an unexpected value for '{names[0]}'")

    def decimal(self, obj, *names, required=False, default=None):
        value = self._get(obj, names, required)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.broken(f"has an unexpected value for '{names[0]}'")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.broken(f"has an unexpected value for '{names[0]}'") from None
        if not number.is_finite():
            raise self.broken(f"has an unexpected value for '{names[0]}'")
        return number

    def datetime(self, obj, *names, required=False):
        value = self._get(obj, names, required)
        if value is None or value == "":
            return None
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise self.broken(f"has an unexpected value for '{names[0]}'") from None
        # Zenoti's booking times are center-local without an offset; should one appear anyway,
        # keep the wall-clock time it names.
        return parsed.replace(tzinfo=None)

    def date(self, obj, *names, required=False):
        parsed = self.datetime(obj, *names, required=required)
        return parsed.date() if parsed else None


def page_total(reader, body):
    """`page_info.total` (or `page_Info`), None when absent."""
    info = reader.obj(body, "page_info", "page_Info", required=False)
    return reader.int(info, "total")


# --- one function per shape -------------------------------------------------------------------


def center(r, data):
    return types.Center(
        id=r.str(data, "id", "center_id", required=True),
        name=r.str(data, "name", "center_name", "center_Name", required=True),
        code=r.str(data, "code"),
        display_name=r.str(data, "display_name"),
        time_zone=r.opt_str(data, "time_zone", "timezone"),
        time_zone_id=r.int(data, "time_zone_id"),
        phone=r.str(data, "phone"),
        email=r.str(data, "email"),
        currency_id=r.int(data, "currency_id"),
    )


def service(r, data):
    price_info = r.obj(data, "price_info", required=False)
    catalog = r.obj(data, "catalog_info", required=False)
    price = r.decimal(price_info, "final_price")
    if price is None:
        price = r.decimal(price_info, "sale_price")
    return types.Service(
        id=r.str(data, "id", required=True),
        name=r.str(data, "name", required=True),
        code=r.str(data, "code"),
        description=r.str(data, "description"),
        # Zenoti spells it `serviceduration_in_miutes` in places; take whichever is there.
        duration=r.int(data, "duration", "serviceduration_in_miutes", "duration_in_minutes") or 0,
        recovery_time=r.int(data, "recovery_time") or 0,
        price=price,
        currency_id=r.int(price_info, "currency_id"),
        category_id=r.opt_str(catalog, "category_id") or r.opt_str(data, "category_id"),
        category_name=r.str(catalog, "category_name") or r.str(data, "category_name"),
        can_book=r.bool(catalog, "can_book"),
        show_in_catalog=r.bool(catalog, "show_in_catalog"),
        is_couple_service=r.bool(data, "is_couple_service"),
    )


def therapist(r, data):
    info = r.obj(data, "personal_info", required=False)
    job = r.obj(data, "job_info", required=False)
    first = r.str(info, "first_name") or r.str(data, "first_name")
    last = r.str(info, "last_name") or r.str(data, "last_name")
    name = (
        r.str(info, "name")
        or r.str(data, "full_name", "name")
        or " ".join(part for part in (first, last) if part)
    )
    return types.Therapist(
        id=r.str(data, "id", required=True),
        first_name=first,
        last_name=last,
        name=name,
        nick_name=r.str(info, "nick_name"),
        code=r.str(data, "code"),
        gender=r.int(info, "gender"),
        job_name=r.str(job, "name"),
    )


def guest(r, data):
    info = r.obj(data, "personal_info", required=False)
    phone = r.obj(info, "mobile_phone", required=False)
    referral = r.obj(data, "referral", required=False)
    source = r.obj(referral, "referral_source", required=False)
    return types.Guest(
        id=r.str(data, "id", "guest_id", required=True),
        center_id=r.opt_str(data, "center_id"),
        first_name=r.str(info, "first_name") or r.str(data, "first_name"),
        last_name=r.str(info, "last_name") or r.str(data, "last_name"),
        email=r.str(info, "email") or r.str(data, "email"),
        phone_country_id=r.int(phone, "country_code", "country_id"),
        phone_number=r.str(phone, "number"),
        gender=r.int(info, "gender"),
        referral_source_id=r.opt_str(source, "id"),
    )


def slots(r, body):
    result = []
    for raw in r.list(body, "slots", required=False):
        time = r.datetime(raw, "Time", required=True)
        result.append(types.Slot(time=time, available=r.bool(raw, "Available", default=True)))
    future = []
    for raw in r.list(body, "future_days", required=False):
        day = r.date(raw, "Day")
        if day and r.bool(raw, "IsAvailable"):
            future.append(day)
    return types.Slots(
        slots=result, future_days=future, next_available_day=r.date(body, "next_available_day")
    )


def _first_invoice_id(r, body):
    invoices = lookup(body, "invoices", "invoice")
    if isinstance(invoices, dict):
        invoices = [invoices]
    if isinstance(invoices, list):
        for item in invoices:
            if isinstance(item, dict):
                invoice_id = r.opt_str(item, "invoice_id", "id")
                if invoice_id:
                    return invoice_id
    return r.opt_str(body, "invoice_id")


def reservation(r, body):
    return types.Reservation(
        reservation_id=r.str(body, "reservation_id", "id", required=True),
        expiry_time=r.datetime(body, "expiry_time"),
        invoice_id=_first_invoice_id(r, body),
    )


def booked_item(r, data):
    item = r.obj(data, "item", "service", required=False)
    therapist_info = r.obj(data, "therapist", required=False)
    return types.BookedItem(
        appointment_id=r.str(data, "appointment_id", "id", required=True),
        service_id=r.opt_str(item, "id"),
        service_name=r.str(item, "name"),
        therapist_id=r.opt_str(therapist_info, "id"),
        therapist_name=r.str(therapist_info, "full_name", "name"),
        start_time=r.datetime(data, "start_time"),
        end_time=r.datetime(data, "end_time"),
    )


def confirmation(r, body):
    invoice = r.obj(body, "invoice")
    return types.Confirmation(
        invoice_id=r.str(invoice, "invoice_id", "id", required=True),
        items=[booked_item(r, raw) for raw in r.list(invoice, "items", required=False)],
    )


def invoice(r, data):
    dues = r.obj(data, "invoice_dues", required=False)
    total_price = r.obj(data, "total_price", required=False)
    zero = Decimal("0")
    total = r.decimal(dues, "total")
    if total is None:
        total = r.decimal(total_price, "sum_total", "final_price", "total", default=zero)
    return types.Invoice(
        id=r.str(data, "id", "invoice_id", required=True),
        is_closed=r.bool(data, "is_closed", required=True),
        total=total,
        paid=r.decimal(dues, "paid", default=zero),
        balance=r.decimal(dues, "balance", default=total),
        currency=r.opt_str(total_price, "currency", "currency_code")
        or r.opt_str(data, "currency", "currency_code"),
    )


def payment_link(r, body):
    return types.PaymentLink(
        hosted_payment_uri=r.str(body, "hosted_payment_uri", required=True),
        token_id=r.str(body, "token_id", required=True),
    )


def appointment(r, data):
    service_info = r.obj(data, "service", required=False)
    therapist_info = r.obj(data, "therapist", required=False)
    return types.Appointment(
        appointment_id=r.str(data, "appointment_id", "id", required=True),
        invoice_id=r.opt_str(data, "invoice_id"),
        appointment_group_id=r.opt_str(data, "appointment_group_id"),
        service_id=r.opt_str(service_info, "id") or r.opt_str(data, "service_id"),
        service_name=r.str(service_info, "name") or r.str(data, "service_name"),
        therapist_id=r.opt_str(therapist_info, "id") or r.opt_str(data, "therapist_id"),
        therapist_name=r.str(therapist_info, "full_name", "name") or r.str(data, "therapist_name"),
        start_time=r.datetime(data, "start_time"),
        end_time=r.datetime(data, "end_time"),
        status=r.int(data, "status", "appointment_status"),
    )
