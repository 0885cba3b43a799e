"""The fake Zenoti API at /sandbox/zenoti/v1/…: authentication by `Authorization: apikey …`,
the organization's rate-limit bucket and fault knobs, then one handler per endpoint.

Paths match in any casing. Every authenticated answer carries the rate-limit headers and a
`Server-Timing: app;dur=<ms>` header (time spent in the sandbox, for client-overhead numbers).

Choices where Zenoti's documentation is silent ([ours] in ZENOTI_API.md):
- business errors answer HTTP 400 (or 200 with the `business_errors_as_200` knob): 502 for
  unknown ids and invalid values, 503 for missing input (also non-JSON bodies), 422 for
  paging, 4072 for a slot that is gone or a hold that lapsed, 460 paid in full, 728 closed,
  438 online payment not enabled at the center;
- a wrong path is 404 and a wrong method 405, both with ASP.NET's `{"Message": …}` body;
- a draft books one service for one guest; reserve on a guest-less draft is 503 "Guest is
  missing."; reserve must name a slot of the draft's date (else 502, or 4072 when the time is
  not a free slot); reserving again moves the hold and voids its temporary invoice;
- confirming a confirmed booking answers the same confirmation again;
- `blocking_time` in reserve is the hold's length in minutes; `invoices` lists the temporary
  invoice as `[{"invoice_id", "guest_id"}]` (null without create_invoice);
- `next_available_day` is null when the draft's day has a free slot, else the first later day
  with one (within 60 days); `future_days` lists the 14 days after the draft's date;
- the appointment shape carries `center_Name` and `serviceduration_in_miutes`, spelled as in
  Zenoti's webhook payloads.
"""

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from urllib.parse import urlsplit

from django.db import transaction
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from sandbox import actions, clock, faults, ratelimit, shapes
from sandbox.errors import INVALID_PAGE, MISSING_INPUT, NOT_FOUND, ApiError
from sandbox.models import (
    ApiKey,
    Appointment,
    Booking,
    Center,
    Guest,
    Invoice,
    SandboxOrganization,
    Therapist,
)
from sandbox.slots import Availability, candidates

AUTH_DENIED = {"Message": "Authorization has been denied for this request."}
TOO_MANY = {"error": {"code": 429, "message": "Too many requests"}}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
FUTURE_DAYS = 14  # days listed by check_future_day_availability
NEXT_DAY_HORIZON = 60  # days searched for next_available_day
MAX_PAGE_SIZE = 100
BOOKING_HORIZON_DAYS = 366  # drafts for dates further away (either way) are refused
USA = 225  # Zenoti's country id for the United States


@dataclass
class Call:
    """One API request as the handlers see it."""

    request: object
    org: SandboxOrganization
    plan: faults.Plan

    @cached_property
    def query(self):
        # Zenoti ignores the casing of query parameter names too.
        return {key.lower(): values for key, values in self.request.GET.lists()}

    def param(self, name):
        values = self.query.get(name, [])
        return values[-1].strip() if values else ""

    @cached_property
    def body(self):
        raw = self.request.body
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(MISSING_INPUT, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(MISSING_INPUT, "The request body must be a JSON object.")
        return data

    def page(self):
        """(page, size) from the query; size above 100 is refused like Zenoti does."""
        try:
            page = int(self.param("page") or 1)
            size = int(self.param("size") or 10)
        except ValueError:
            raise ApiError(INVALID_PAGE, "page and size must be whole numbers.") from None
        if size > MAX_PAGE_SIZE:
            raise ApiError(INVALID_PAGE, f"Page size cannot be greater than {MAX_PAGE_SIZE}.")
        if page < 1 or size < 1:
            raise ApiError(INVALID_PAGE, "page and size must be at least 1.")
        return page, size


def _paged(call, queryset, key, shape):
    page, size = call.page()
    total = queryset.count()
    # A page past the end is empty (and its offset might not fit the database's integer).
    rows = queryset[(page - 1) * size : page * size] if (page - 1) * size < total else []
    return {
        key: [shape(row) for row in rows],
        "page_info": {"total": total, "page": page, "size": size},
    }


def _uuid(value, what):
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise ApiError(NOT_FOUND, f"Invalid {what} id.") from None


def _get(queryset, value, what):
    found = queryset.filter(pk=_uuid(value, what)).first()
    if found is None:
        raise ApiError(NOT_FOUND, f"Invalid {what} id.")
    return found


def _center(call, center_id):
    return _get(Center.objects.filter(organization=call.org), center_id, "center")


def _date(value, what="date"):
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ApiError(NOT_FOUND, f"Invalid {what}; use YYYY-MM-DD.") from None


def _text(data, key):
    value = data.get(key) if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _object(data, key):
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _flag(value):
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


# --- Centers and catalog ------------------------------------------------------------


def list_centers(call):
    centers = Center.objects.filter(organization=call.org).order_by("name", "id")
    return _paged(call, centers, "centers", shapes.center_summary)


def get_center(call, center_id):
    return {"center": shapes.center_detail(_center(call, center_id))}


def list_services(call, center_id):
    center = _center(call, center_id)
    services = center.services.select_related("category").order_by("category__name", "name", "id")
    if call.param("category_id"):
        services = services.filter(category_id=_uuid(call.param("category_id"), "category"))
    return _paged(call, services, "services", lambda s: shapes.service(s, center))


def service_therapists(call, center_id, service_id):
    center = _center(call, center_id)
    service = _get(center.services.all(), service_id, "service")
    therapists = Therapist.objects.filter(center=center, services=service)
    return {"therapists": [shapes.therapist(t) for t in therapists]}


def center_therapists(call, center_id):
    center = _center(call, center_id)
    therapists = Therapist.objects.filter(center=center)
    if call.param("date"):
        day = _date(call.param("date"))
        # Only those working that day.
        therapists = therapists.filter(shifts__weekday=day.weekday()).exclude(days_off__date=day)
    return {"therapists": [shapes.therapist(t) for t in therapists]}


# --- Guests --------------------------------------------------------------------------


def _digits(value):
    return re.sub(r"\D", "", value or "")


def search_guests(call):
    guests = Guest.objects.filter(organization=call.org).select_related("referral_source")
    if call.param("center_id"):
        _center(call, call.param("center_id"))
    email, phone = call.param("email"), _digits(call.param("phone"))
    if not email and not phone:
        raise ApiError(MISSING_INPUT, "Provide an email or a phone number to search for.")
    if email:
        guests = guests.filter(email__iexact=email)
    if phone:
        # Zenoti matches the national number whether or not a country prefix is given.
        matches = [g.pk for g in guests if _phone_matches(_digits(g.phone_number), phone)]
        guests = guests.filter(pk__in=matches)
    return _paged(call, guests.order_by("created_at", "id"), "guests", shapes.guest)


def _phone_matches(stored, searched):
    if not stored or len(searched) < 7:
        return False
    return stored.endswith(searched) or searched.endswith(stored)


def create_guest(call):
    data = call.body
    info = _object(data, "personal_info")
    if not _text(data, "center_id") or not _text(info, "first_name"):
        raise ApiError(MISSING_INPUT, "Mandatory fields missing.")
    center = _center(call, data["center_id"])
    source_id = _object(_object(data, "referral"), "referral_source").get("id")
    if not source_id and call.org.referral_required:
        raise ApiError(MISSING_INPUT, "Mandatory fields missing.")
    source = None
    if source_id:
        source = _get(call.org.referral_sources.all(), source_id, "referral source")
    phone = _object(info, "mobile_phone")
    number = phone.get("number")
    country = phone.get("country_code", USA) if number else None
    if number is not None and not isinstance(number, str | int):
        raise ApiError(NOT_FOUND, "Invalid mobile phone number.")
    if country is not None and (
        isinstance(country, bool) or not isinstance(country, int) or not 0 < country < 1000
    ):
        raise ApiError(NOT_FOUND, "Invalid mobile phone country code.")
    gender = info.get("gender", -1)
    preferences = _object(data, "preferences")
    guest = Guest.objects.create(
        organization=call.org,
        center=center,
        first_name=_text(info, "first_name")[:100],
        last_name=_text(info, "last_name")[:100],
        email=_text(info, "email")[:254],
        phone_country_id=country,
        phone_number=_digits(str(number or ""))[:30],
        gender=gender if isinstance(gender, int) and gender in (-1, 0, 1) else -1,
        receive_marketing_email=_flag(preferences.get("receive_marketing_email")),
        receive_marketing_sms=_flag(preferences.get("receive_marketing_sms")),
        referral_source=source,
        created_at=clock.now(),
    )
    return shapes.guest(guest)


def guest_appointments(call, guest_id):
    guest = _get(Guest.objects.filter(organization=call.org), guest_id, "guest")
    appointments = guest.appointments.select_related("center", "guest", "service", "therapist")
    first = _date(call.param("start_date"), "start_date") if call.param("start_date") else None
    last = _date(call.param("end_date"), "end_date") if call.param("end_date") else None
    chosen = [
        a
        for a in appointments.order_by("start")
        if (first is None or a.center.local(a.start).date() >= first)
        and (last is None or a.center.local(a.start).date() <= last)
    ]
    return {"appointments": [shapes.appointment(a) for a in chosen]}


# --- Booking -------------------------------------------------------------------------


def create_booking(call):
    data = call.body
    guests = data.get("guests")
    if not _text(data, "center_id") or not _text(data, "date"):
        raise ApiError(MISSING_INPUT, "center_id and date are required.")
    if not isinstance(guests, list) or not guests or not isinstance(guests[0], dict):
        raise ApiError(MISSING_INPUT, "guests are required.")
    items = guests[0].get("items")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise ApiError(MISSING_INPUT, "items are required.")
    if len(guests) > 1 or len(items) > 1:
        raise ApiError(NOT_FOUND, "The sandbox books one service for one guest per booking.")
    center = _center(call, data["center_id"])
    day = _date(data["date"])
    if abs((day - clock.now().date()).days) > BOOKING_HORIZON_DAYS:
        raise ApiError(NOT_FOUND, "Invalid date: bookings are taken up to a year ahead.")
    service_id = _object(items[0], "item").get("id")
    if not service_id:
        raise ApiError(MISSING_INPUT, "items[0].item.id is required.")
    service = _get(center.services.all(), service_id, "service")
    if not service.can_book:
        raise ApiError(NOT_FOUND, "This service cannot be booked online.")
    therapist = None
    therapist_id = _object(items[0], "therapist").get("id")
    if therapist_id:
        therapist = _get(center.therapists.all(), therapist_id, "therapist")
        if not therapist.services.filter(pk=service.pk).exists():
            raise ApiError(NOT_FOUND, "The therapist does not perform this service.")
    guest = None
    if guests[0].get("id"):
        guest = _get(Guest.objects.filter(organization=call.org), guests[0]["id"], "guest")
    booking = Booking.objects.create(
        organization=call.org,
        center=center,
        date=day,
        guest=guest,
        service=service,
        therapist=therapist,
        created_at=clock.now(),
    )
    return {"id": str(booking.id)}


def _booking(call, booking_id):
    booking = (
        Booking.objects.select_related("center", "service", "guest")
        .filter(organization=call.org, pk=_uuid(booking_id, "booking"))
        .first()
    )
    if booking is None:
        raise ApiError(NOT_FOUND, "Invalid booking id.")
    return booking


def _day(moment):
    return moment.strftime("%Y-%m-%dT00:00:00")


def booking_slots(call, booking_id):
    booking = _booking(call, booking_id)
    future = _flag(call.param("check_future_day_availability"))
    last_day = booking.date + timedelta(days=NEXT_DAY_HORIZON)
    availability = Availability(
        booking.center,
        booking.service,
        candidates(booking),
        booking.date,
        last_day,
        clock.now(),
        ignore=booking,
    )
    slots = availability.slots(booking.date)
    following = [booking.date + timedelta(days=n) for n in range(1, NEXT_DAY_HORIZON + 1)]
    next_day = None
    if not any(available for _, available in slots):
        next_day = next((d for d in following if availability.has_slot(d)), None)
    return {
        "slots": [
            {
                "Time": shapes.naive(start),
                "Warnings": None,
                "Priority": 0,
                "Available": available,
                "SalePrice": None,
            }
            for start, available in slots
        ],
        "future_days": [
            {"Day": _day(d), "IsAvailable": availability.has_slot(d), "HolidayType": None}
            for d in following[:FUTURE_DAYS]
        ]
        if future
        else [],
        "next_available_day": _day(next_day) if next_day else None,
        "Error": None,
    }


def reserve(call, booking_id):
    booking_id = _uuid(booking_id, "booking")
    raw = call.body.get("slot_time")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(MISSING_INPUT, "slot_time is required.")
    try:
        start = datetime.fromisoformat(raw.strip()).replace(tzinfo=None, microsecond=0)
    except ValueError:
        raise ApiError(NOT_FOUND, "Invalid slot_time; use YYYY-MM-DDTHH:MM:SS.") from None
    if call.plan.steal:
        actions.steal_slot(call.org, booking_id, start)
    booking = actions.reserve(
        call.org, booking_id, start, create_invoice=_flag(call.body.get("create_invoice"))
    )
    return shapes.reservation(booking)


def confirm(call, booking_id):
    booking = actions.confirm(
        call.org,
        _uuid(booking_id, "booking"),
        notes=_text(call.body, "notes")[:2000],
        group_name=_text(call.body, "group_name")[:200],
    )
    return shapes.confirmation(booking)


# --- Invoices and appointments -------------------------------------------------------


def get_invoice(call, invoice_id):
    found = _get(
        Invoice.objects.filter(organization=call.org).select_related("center", "guest"),
        invoice_id,
        "invoice",
    )
    expand = {value.lower() for value in call.query.get("expand", [])}
    return {"invoice": shapes.invoice(found, expand)}


def _is_web_address(url):
    """An http(s) address with a plain host: its origin goes into the payment page's
    form-action CSP, so nothing there may carry ";" or "," (another directive)."""
    if len(url) > 2000 or any(char.isspace() or char in ";," for char in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def online_payments(call, invoice_id):
    data = call.body
    redirect_uri = _text(data, "redirect_uri")
    if not _text(data, "center_id") or not redirect_uri:
        raise ApiError(MISSING_INPUT, "center_id and redirect_uri are required.")
    if not _is_web_address(redirect_uri):
        raise ApiError(NOT_FOUND, "Invalid redirect_uri.")
    payment = actions.start_online_payment(
        call.org,
        _uuid(invoice_id, "invoice"),
        center=_center(call, data["center_id"]),
        redirect_uri=redirect_uri,
    )
    page = call.request.build_absolute_uri(reverse("sandbox-pay", args=[payment.token]))
    return {"success": True, "hosted_payment_uri": page, "token_id": str(payment.token)}


def cancel_invoice(call, invoice_id):
    comments = call.param("comments") or _text(call.body, "comments")
    actions.cancel_invoice(call.org, _uuid(invoice_id, "invoice"), comments=comments[:2000])
    return {"success": True, "is_charge_applied": False}


def get_appointment(call, appointment_id):
    found = _get(
        Appointment.objects.filter(organization=call.org).select_related(
            "center", "guest", "service", "therapist"
        ),
        appointment_id,
        "appointment",
    )
    return shapes.appointment(found)


_ID = r"(?P<{}>[^/]+)"
ROUTES = [
    (method, re.compile(pattern.format(*names) if names else pattern, re.IGNORECASE), handler)
    for method, pattern, names, handler in [
        ("GET", r"centers", (), list_centers),
        ("GET", rf"centers/{_ID}", ("center_id",), get_center),
        ("GET", rf"centers/{_ID}/services", ("center_id",), list_services),
        (
            "GET",
            rf"centers/{_ID}/services/{_ID}/therapists",
            ("center_id", "service_id"),
            service_therapists,
        ),
        ("GET", rf"centers/{_ID}/therapists", ("center_id",), center_therapists),
        ("GET", r"guests/search", (), search_guests),
        ("POST", r"guests", (), create_guest),
        ("GET", rf"guests/{_ID}/appointments", ("guest_id",), guest_appointments),
        ("POST", r"bookings", (), create_booking),
        ("GET", rf"bookings/{_ID}/slots", ("booking_id",), booking_slots),
        ("POST", rf"bookings/{_ID}/slots/reserve", ("booking_id",), reserve),
        ("POST", rf"bookings/{_ID}/slots/confirm", ("booking_id",), confirm),
        ("GET", rf"invoices/{_ID}", ("invoice_id",), get_invoice),
        ("POST", rf"invoices/{_ID}/online_payments", ("invoice_id",), online_payments),
        ("PUT", rf"invoices/{_ID}/cancel", ("invoice_id",), cancel_invoice),
        ("GET", rf"appointments/{_ID}", ("appointment_id",), get_appointment),
    ]
]


def _resolve(method, path):
    """(handler, path parameters), or (None, True) when the path exists for other methods
    only, or (None, False) when no route has that path."""
    path_exists = False
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if route_method == method:
                return handler, match.groupdict()
            path_exists = True
    return None, path_exists


# --- The request pipeline ------------------------------------------------------------


def _organization_for(request):
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "apikey" or not key.strip():
        return None
    api_key = ApiKey.objects.select_related("organization").filter(key=key.strip()).first()
    return api_key.organization if api_key else None


def _admit(org_pk):
    """Count the request, draw its faults and spend a rate-limit token, under the
    organization row's lock so every process shares one bucket."""
    with transaction.atomic():
        org = SandboxOrganization.objects.select_for_update().get(pk=org_pk)
        org.request_count += 1
        plan = faults.draw(org, org.request_count)
        decision = ratelimit.take(org, clock.now(), refuse=plan.rate_limited)
        org.save(update_fields=["request_count", "bucket_tokens", "bucket_checked_at"])
    return org, plan, decision


def _handle(request, path, org, plan):
    handler, found = _resolve(request.method, path.strip("/"))
    if handler is None:
        if found:
            message = f"The requested resource does not support http method '{request.method}'."
            return JsonResponse({"Message": message}, status=405)
        message = f"No HTTP resource was found that matches the request URI '{request.path}'."
        return JsonResponse({"Message": message}, status=404)
    try:
        body = handler(Call(request=request, org=org, plan=plan), **found)
    except ApiError as error:
        body = {**error.extra, "error": {"code": error.code, "message": error.message}}
        return JsonResponse(body, status=200 if org.business_errors_as_200 else 400)
    return JsonResponse({**body, "error": None})


def _answer(request, path, org, plan, decision, in_process):
    if not decision.allowed:
        return JsonResponse(TOO_MANY, status=429)
    if plan.server_error:
        return faults.server_error_response(plan.server_error)
    if plan.hang:
        if not in_process:
            clock.sleep(org.hang_seconds)
        return faults.gateway_timeout_response()
    actions.release_lapsed_holds(org)
    response = _handle(request, path, org, plan)
    if plan.lose_response and request.method in WRITES:
        # The write is committed; the caller never hears about it.
        if not in_process:
            clock.sleep(org.hang_seconds)
        response[faults.FAULT_HEADER] = "lost-response"
    return response


@csrf_exempt
def endpoint(request, path):
    started = time.perf_counter()
    org = _organization_for(request)
    if org is None:
        response = JsonResponse(AUTH_DENIED, status=401)
    else:
        org, plan, decision = _admit(org.pk)
        in_process, read_timeout = faults.in_process(request)
        latency = org.latency_ms / 1000
        # In-process, latency beyond the caller's read timeout is a timeout at once (after
        # the work is done, as a slow server would have done it); otherwise it is waited.
        late = in_process and read_timeout is not None and latency >= read_timeout
        if latency and not late:
            clock.sleep(latency)
        response = _answer(request, path, org, plan, decision, in_process)
        if late and faults.FAULT_HEADER not in response:
            response[faults.FAULT_HEADER] = "late"
        for name, value in ratelimit.headers(org, decision).items():
            response[name] = value
    response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response
