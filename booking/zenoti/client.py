"""ZenotiClient: the calls of Chairfill's booking flow against Zenoti's v1 API, on httpx.

One client per set of credentials (base URL + API key). Every public method runs under one
deadline (all attempts and waits included) and each HTTP attempt has explicit connect/read/
write/pool timeouts, cut short so no attempt outlives the deadline.

Retries: reads (GET) are retried on timeouts, broken connections, 5xx and 429, with
exponential backoff and full jitter, honouring Retry-After first and RateLimit-Reset next, and
never sleeping past the deadline (the last error is raised instead). Writes are retried only
when Zenoti provably did nothing (429, or the connection was never opened); after an ambiguous
failure (timeout, lost answer, 5xx) `find_or_create_guest` and `confirm_booking_safely` look
before writing again, so a guest or a booking is never created twice.
"""

import functools
import json
import logging
import math
import random
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import date as date_type
from urllib.parse import quote

import httpx
import phonenumbers

from . import parsing, types
from .errors import (
    AuthError,
    BudgetExhaustedError,
    NotFoundError,
    RateLimitedError,
    SlotUnavailableError,
    UpstreamUnavailableError,
    ValidationError,
    ZenotiError,
    ZenotiTimeoutError,
)
from .parsing import Reader, lookup
from .ratelimit import parse_retry_after, wait_hint

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.zenoti.com/v1"
PAGE_SIZE = 100  # Zenoti's maximum; above it answers 422
MAX_PAGES = 50  # 5,000 rows: a guard against a server that ignores `page`
MAX_ATTEMPTS = 4  # per HTTP call: the first try and up to three retries
BACKOFF_BASE = 0.5  # seconds; the n-th retry waits uniform(0, min(CAP, BASE * 2**(n-1)))
BACKOFF_CAP = 4.0
MIN_ATTEMPT_SECONDS = 1.0  # don't wait for a budget token past the point of no time to use it
WRITE_ROUNDS = 3  # look-then-write rounds of find_or_create_guest / confirm_booking_safely
USER_AGENT = "Chairfill (+zenoti-client)"

# Zenoti identifies countries by its own ids, not dialing codes. +1 numbers (USA and the rest
# of the North American plan) go under the USA; other countries are sent as full digits.
ZENOTI_COUNTRY_IDS = {1: 225}


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 3.0


class _Deadline:
    def __init__(self, clock, seconds):
        self.clock = clock
        self.seconds = seconds
        self.ends = clock() + seconds

    def left(self):
        return self.ends - self.clock()


def _mark(exc, *, transient=False, unsent=False):
    """Tag an error for the retry policy: `transient` errors are worth retrying for reads;
    `unsent` ones mean Zenoti never saw the request, so even a write may be retried."""
    exc.transient = transient
    exc.unsent = unsent
    return exc


def _chain(exc):
    """The exception and the ones it was raised from (httpx wraps the OSError or SSLError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


@functools.cache
def _ssl_context():
    """One TLS context for every client: building one loads the CA bundle, about 17 ms of CPU,
    and a client is made per guest request. SSLContext is safe to share between threads."""
    return httpx.create_ssl_context()


def _host(url):
    try:
        return httpx.URL(url).host or url
    except Exception:
        return url


def _valid_base_url(url):
    if any(char.isspace() for char in url):
        return False
    try:
        parsed = httpx.URL(url)
    except Exception:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def _e164_to_zenoti(phone):
    """(Zenoti country id or None, number) for an E.164 phone number."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None, re.sub(r"\D", "", phone)
    country_id = ZENOTI_COUNTRY_IDS.get(parsed.country_code)
    national = str(parsed.national_number)
    if country_id is None:
        return None, f"{parsed.country_code}{national}"
    return country_id, national


def _digits(value):
    return re.sub(r"\D", "", value or "")


def _same_id(a, b):
    return bool(a) and bool(b) and str(a).lower() == str(b).lower()


class ZenotiClient:
    def __init__(
        self,
        base_url,
        api_key,
        *,
        budget=None,
        timeouts=None,
        deadline=20.0,
        transport=None,
        on_call=None,
        priority="interactive",
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        if priority not in ("interactive", "background"):
            raise ValueError("priority must be 'interactive' or 'background'")
        self.base_url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        self._url_ok = _valid_base_url(self.base_url)
        self.budget = budget
        self.timeouts = timeouts or Timeouts()
        self.deadline = deadline
        self.on_call = on_call
        self.priority = priority
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random()  # noqa: S311 (jitter, not crypto)
        api_key = (api_key or "").strip()
        # A key pasted with stray characters can't even be put in a header: say so on use.
        self._key_ok = bool(api_key) and api_key.isascii() and api_key.isprintable()
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._key_ok:
            headers["Authorization"] = f"apikey {api_key}"
        self._http = httpx.Client(
            transport=transport, headers=headers, follow_redirects=False, verify=_ssl_context()
        )

    def __repr__(self):
        return f"<ZenotiClient {self.base_url}>"  # never the key

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # --- centers, catalog ----------------------------------------------------------------

    def list_centers(self):
        return self._pages("/centers", "centers", parsing.center, {}, {}, self._start())

    def get_center(self, center_id):
        return self._request(
            "GET",
            "/centers/{center_id}",
            {"center_id": center_id},
            call=self._start(),
            read=lambda r, body: parsing.center(r, r.obj(body, "center")),
        )

    def list_services(self, center_id, *, category_id=None):
        params = {"category_id": category_id} if category_id else {}
        return self._pages(
            "/centers/{center_id}/services",
            "services",
            parsing.service,
            {"center_id": center_id},
            params,
            self._start(),
        )

    def list_service_therapists(self, center_id, service_id):
        return self._request(
            "GET",
            "/centers/{center_id}/services/{service_id}/therapists",
            {"center_id": center_id, "service_id": service_id},
            call=self._start(),
            read=_rows("therapists", parsing.therapist),
        )

    def list_therapists(self, center_id, *, date=None):
        return self._request(
            "GET",
            "/centers/{center_id}/therapists",
            {"center_id": center_id},
            params={"date": date.isoformat()} if date else None,
            call=self._start(),
            read=_rows("therapists", parsing.therapist),
        )

    # --- guests --------------------------------------------------------------------------

    def search_guests(self, center_id, *, email=None, phone=None):
        return self._search_guests(center_id, email, phone, self._start())

    def create_guest(self, guest):
        """Create a guest. A write: retried only when Zenoti provably never saw it. Prefer
        find_or_create_guest, which never creates a duplicate."""
        return self._create_guest(guest, self._start())

    def find_or_create_guest(self, guest, *, search_phone=True):
        """The existing guest with this email (or phone), else a new one. After an ambiguous
        failure of the create (timeout, lost answer, 5xx) it searches again before creating
        again, so a guest whose creation went through is found, not duplicated.
        `search_phone=False` looks by email only when there is one (one call less)."""
        call = self._start()
        if not ((guest.email or "").strip() or _digits(guest.phone)):
            return self._create_guest(guest, call)  # nothing to search by
        last = None
        for _ in range(WRITE_ROUNDS):
            if last is not None and call.left() <= 0:
                break
            found = self._find_guest(guest, call, search_phone)
            if found:
                return found
            try:
                return self._create_guest(guest, call)
            except (ZenotiTimeoutError, UpstreamUnavailableError) as exc:
                last = exc  # maybe created, maybe not: the next round looks first
        raise last

    def _search_guests(self, center_id, email, phone, call):
        email = (email or "").strip()
        number = _e164_to_zenoti(phone)[1] if phone else ""
        if not (email or number):
            raise ValueError("search_guests needs an email or a phone number")
        params = {"center_id": center_id, "page": 1, "size": PAGE_SIZE}
        if email:
            params["email"] = email
        if number:
            params["phone"] = number
        return self._request(
            "GET", "/guests/search", params=params, call=call, read=_rows("guests", parsing.guest)
        )

    def _find_guest(self, guest, call, search_phone=True):
        """The guest with the same email, else the same mobile number (Zenoti's search may
        match loosely: only exact matches count)."""
        email = (guest.email or "").strip().lower()
        if email:
            for found in self._search_guests(guest.center_id, email, None, call):
                if found.email.strip().lower() == email:
                    return found
        number = _e164_to_zenoti(guest.phone)[1] if guest.phone else ""
        if number and (search_phone or not email):
            for found in self._search_guests(guest.center_id, None, guest.phone, call):
                if _digits(found.phone_number) == number:
                    return found
        return None

    def _create_guest(self, guest, call):
        personal = {
            "first_name": guest.first_name,
            "last_name": guest.last_name,
            "gender": guest.gender,
        }
        if guest.email:
            personal["email"] = guest.email.strip()
        country_id, number = _e164_to_zenoti(guest.phone) if guest.phone else (None, "")
        if number:
            personal["mobile_phone"] = {"country_code": country_id, "number": number}
        payload = {
            "center_id": guest.center_id,
            "personal_info": personal,
            "preferences": {
                "receive_marketing_email": guest.receive_marketing_email,
                "receive_marketing_sms": guest.receive_marketing_sms,
            },
        }
        if guest.referral_source_id:
            payload["referral"] = {"referral_source": {"id": guest.referral_source_id}}
        return self._request(
            "POST",
            "/guests",
            json=payload,
            call=call,
            # The Guest itself; tolerate it wrapped in {"guest": …} too.
            read=lambda r, body: parsing.guest(
                r, body if r.has(body, "id") else r.obj(body, "guest")
            ),
        )

    # --- booking -------------------------------------------------------------------------

    def create_booking(self, center_id, date, service_id, *, therapist_id=None, guest_id=None):
        """A draft booking for one service on `date`; returns its id. Without guest_id the
        draft can list slots but not be reserved."""
        call = self._start()
        item = {"item": {"id": service_id}}
        if therapist_id:
            item["therapist"] = {"id": therapist_id}
        booking_guest = {"items": [item]}
        if guest_id:
            booking_guest["id"] = guest_id
        payload = {
            "center_id": center_id,
            "date": date.isoformat() if isinstance(date, date_type) else str(date),
            "is_only_catalog_employees": True,
            "guests": [booking_guest],
        }
        return self._request(
            "POST",
            "/bookings",
            json=payload,
            call=call,
            # The key is `id` in Zenoti's answers; some clients read `booking_id`.
            read=lambda r, body: r.str(body, "id", "booking_id", required=True),
        )

    def get_slots(self, booking_id):
        return self._request(
            "GET",
            "/bookings/{booking_id}/slots",
            {"booking_id": booking_id},
            params={"check_future_day_availability": "true"},
            call=self._start(),
            read=parsing.slots,
        )

    def reserve_slot(self, booking_id, slot_time, *, create_invoice=False):
        _require_center_local(slot_time)
        payload = {
            "slot_time": slot_time.strftime("%Y-%m-%dT%H:%M:%S"),
            "create_invoice": create_invoice,
        }
        return self._request(
            "POST",
            "/bookings/{booking_id}/slots/reserve",
            {"booking_id": booking_id},
            json=payload,
            call=self._start(),
            read=_reservation,
        )

    def confirm_booking(self, booking_id, *, notes=None, group_name=None):
        """Confirm a reserved booking (a write, never blindly retried). 4072 →
        SlotUnavailableError. Prefer confirm_booking_safely."""
        return self._confirm(booking_id, notes, group_name, self._start())

    def confirm_booking_safely(self, booking_id, *, guest_id, service_id, start_time, notes=None):
        """confirm_booking that survives an ambiguous failure: after a timeout, a lost answer or
        a 5xx it reads the guest's appointments for that day and returns the booking if it went
        through; only if it didn't does it try confirming again."""
        _require_center_local(start_time)
        call = self._start()
        last = None
        for _ in range(WRITE_ROUNDS):
            try:
                return self._confirm(booking_id, notes, None, call)
            except (ZenotiTimeoutError, UpstreamUnavailableError) as exc:
                last = exc
            except (SlotUnavailableError, ValidationError) as exc:
                if last is None:
                    raise
                # Our earlier, ambiguous confirm may be what took the slot.
                found = self._find_confirmed(guest_id, service_id, start_time, call)
                if found:
                    return found
                raise exc from last
            if call.left() <= 0:
                break
            found = self._find_confirmed(guest_id, service_id, start_time, call)
            if found:
                return found
        raise last

    def find_confirmed(self, guest_id, service_id, start_time):
        """The confirmed booking of this guest, service and start time, or None: how to learn
        whether a confirm whose answer was lost went through."""
        return self._find_confirmed(guest_id, service_id, start_time, self._start())

    def _confirm(self, booking_id, notes, group_name, call):
        payload = {}
        if notes:
            payload["notes"] = notes
        if group_name:
            payload["group_name"] = group_name
        return self._request(
            "POST",
            "/bookings/{booking_id}/slots/confirm",
            {"booking_id": booking_id},
            json=payload,
            call=call,
            read=_confirmation,
        )

    def _find_confirmed(self, guest_id, service_id, start_time, call):
        _require_center_local(start_time)
        start_time = start_time.replace(microsecond=0)
        day = start_time.date()
        appointments = self._guest_appointments(guest_id, day, day, call)
        match = next(
            (
                a
                for a in appointments
                if not a.is_cancelled
                and a.invoice_id
                and _same_id(a.service_id, service_id)
                and a.start_time
                and a.start_time.replace(microsecond=0) == start_time
            ),
            None,
        )
        if match is None:
            return None
        items = [
            types.BookedItem(
                appointment_id=a.appointment_id,
                service_id=a.service_id,
                service_name=a.service_name,
                therapist_id=a.therapist_id,
                therapist_name=a.therapist_name,
                start_time=a.start_time,
                end_time=a.end_time,
            )
            for a in appointments
            if _same_id(a.invoice_id, match.invoice_id) and not a.is_cancelled
        ]
        return types.Confirmation(invoice_id=match.invoice_id, items=items)

    # --- invoices, payments, appointments ------------------------------------------------

    def get_invoice(self, invoice_id):
        return self._request(
            "GET",
            "/invoices/{invoice_id}",
            {"invoice_id": invoice_id},
            params={"expand": ["InvoiceItems", "Transactions"]},
            call=self._start(),
            read=lambda r, body: parsing.invoice(r, r.obj(body, "invoice")),
        )

    def create_online_payment(self, invoice_id, *, center_id, redirect_uri):
        payload = {
            "center_id": center_id,
            "redirect_uri": redirect_uri,
            "source": 1,
            "billing_info": None,
        }
        return self._request(
            "POST",
            "/invoices/{invoice_id}/online_payments",
            {"invoice_id": invoice_id},
            json=payload,
            call=self._start(),
            read=_payment_link,
        )

    def cancel_invoice(self, invoice_id, *, comments=""):
        """Cancel the invoice and every appointment on it."""
        self._request(
            "PUT",
            "/invoices/{invoice_id}/cancel",
            {"invoice_id": invoice_id},
            params={"comments": comments},
            call=self._start(),
            read=_cancelled,
        )

    def get_appointment(self, appointment_id):
        return self._request(
            "GET",
            "/appointments/{appointment_id}",
            {"appointment_id": appointment_id},
            call=self._start(),
            # The appointment itself; tolerate it wrapped in {"appointment": …} too.
            read=lambda r, body: parsing.appointment(
                r, body if r.has(body, "appointment_id", "id") else r.obj(body, "appointment")
            ),
        )

    def list_guest_appointments(self, guest_id, *, start_date, end_date):
        return self._guest_appointments(guest_id, start_date, end_date, self._start())

    def _guest_appointments(self, guest_id, start_date, end_date, call):
        return self._request(
            "GET",
            "/guests/{guest_id}/appointments",
            {"guest_id": guest_id},
            params={"start_date": start_date.isoformat(), "end_date": end_date.isoformat()},
            call=call,
            read=_rows("appointments", parsing.appointment),
        )

    # --- HTTP ----------------------------------------------------------------------------

    def _start(self):
        return _Deadline(self._clock, self.deadline)

    def _pages(self, template, key, parse_row, path, params, call):
        """Every row of a paged list, `PAGE_SIZE` at a time."""

        def read_page(r, body):
            raw = r.list(body, key)
            return raw, [parse_row(r, row) for row in raw], parsing.page_total(r, body)

        rows, seen = [], set()
        for page in range(1, MAX_PAGES + 1):
            query = {**params, "page": page, "size": PAGE_SIZE}
            raw, parsed, total = self._request(
                "GET", template, path, params=query, call=call, read=read_page
            )
            fresh = [row for row in parsed if row.id.lower() not in seen]
            seen.update(row.id.lower() for row in fresh)  # a server ignoring `page` repeats
            rows.extend(fresh)
            if len(raw) < PAGE_SIZE or not fresh or (total is not None and len(rows) >= total):
                break
        return rows

    def _request(self, method, template, path=None, *, params=None, json=None, call, read):
        """`read(reader, body)` of a successful answer's JSON body; retries as the module
        docstring says. Reading happens inside the attempt, so an answer that can't be read
        is logged as the failed call it is."""
        url = self.base_url + template.format(
            **{name: quote(str(value), safe="") for name, value in (path or {}).items()}
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, url, template, params, json, call, attempt, read)
            except ZenotiError as exc:
                if attempt >= MAX_ATTEMPTS or not self._retryable(exc, method):
                    raise
                delay = self._backoff(exc, attempt)
                if delay >= call.left():
                    raise  # waiting would pass the deadline: the last error is the answer
                self._sleep(delay)

    @staticmethod
    def _retryable(exc, method):
        if isinstance(exc, BudgetExhaustedError):
            return False  # the budget already waited as long as the deadline allows
        if isinstance(exc, RateLimitedError) or getattr(exc, "unsent", False):
            return True
        return method == "GET" and getattr(exc, "transient", False)

    def _backoff(self, exc, attempt):
        if exc.retry_after is not None:
            return exc.retry_after
        return self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def _attempt(self, method, url, template, params, json_body, call, attempt, read):
        if not self._url_ok:
            raise UpstreamUnavailableError(
                "The Zenoti base URL isn't a valid web address (it should look like "
                "https://api.zenoti.com/v1): check it on the center page."
            )
        if not self._key_ok:
            raise AuthError(
                "The API key is empty or contains characters Zenoti keys never have: "
                "paste it again on the center page."
            )
        left = call.left()
        if left <= 0:
            raise self._deadline_error(call)
        if self.budget is not None:
            try:
                # Waiting for a token is only worth it if time is left to use it.
                wait = max(0.0, left - min(MIN_ATTEMPT_SECONDS, self.timeouts.read))
                self.budget.acquire(priority=self.priority, max_wait=wait)
            except BudgetExhaustedError:
                self._record(method, template, None, None, 0.0, attempt, None, "budget")
                raise
            left = call.left()
            if left <= 0:
                raise self._deadline_error(call)
        t = self.timeouts
        timeout = httpx.Timeout(
            connect=min(t.connect, left),
            read=min(t.read, left),
            write=min(t.write, left),
            pool=min(t.pool, left),
        )
        started = time.perf_counter()
        try:
            response = self._http.request(
                method, url, params=params, json=json_body, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            latency = (time.perf_counter() - started) * 1000
            self._record(method, template, None, None, latency, attempt, None, "timeout")
            raise self._timeout_error(exc, timeout) from exc
        except (httpx.RequestError, httpx.InvalidURL) as exc:  # network, decoding, …
            latency = (time.perf_counter() - started) * 1000
            self._record(method, template, None, None, latency, attempt, None, "network_error")
            raise self._network_error(exc) from exc
        latency = (time.perf_counter() - started) * 1000
        if self.budget is not None:
            self.budget.observe(response.headers, response.status_code)
        remaining = _int_header(response.headers.get("RateLimit-Remaining"))
        what = f"{method} {template}"
        try:
            result = read(Reader(what), self._parse(response, what))
        except ZenotiError as exc:
            self._record(
                method,
                template,
                response.status_code,
                exc.code,
                latency,
                attempt,
                remaining,
                "http_error",
            )
            raise
        self._record(
            method, template, response.status_code, None, latency, attempt, remaining, "ok"
        )
        return result

    def _record(self, method, template, status, code, latency, attempt, remaining, outcome):
        if self.on_call is None:
            return
        record = types.CallRecord(
            method=method,
            path_template=template,
            status=status,
            error_code=code,
            latency_ms=latency,
            attempt=attempt,
            ratelimit_remaining=remaining,
            outcome=outcome,
        )
        try:
            self.on_call(record)
        except Exception:
            # The call log must never break a booking.
            logger.exception("Zenoti on_call hook failed")

    # --- answers and errors --------------------------------------------------------------

    def _parse(self, response, what):
        status = response.status_code
        content = response.content
        body, readable = None, True
        if content.strip():
            try:
                body = json.loads(content)
            except ValueError:  # includes UnicodeDecodeError
                readable = False
        error = lookup(body, "error") if isinstance(body, dict) else None
        if status >= 300 or _is_error(error):
            raise self._http_error(response, body, readable, error)
        if not readable or not isinstance(body, dict):
            raise _mark(
                UpstreamUnavailableError(
                    f"Zenoti sent an answer to {what} that isn't readable data "
                    f"({_describe_body(response)}). If it keeps happening, check the base URL on "
                    "the center page, or Zenoti may be having problems.",
                    status=status,
                )
            )
        return body

    def _http_error(self, response, body, readable, error):
        status = response.status_code
        headers = response.headers
        code, zenoti_message = None, ""
        if isinstance(error, dict):
            code = _int_or_none(lookup(error, "code"))
            zenoti_message = str(lookup(error, "message", default="") or "")
        elif isinstance(error, str):
            zenoti_message = error
        if not zenoti_message and isinstance(body, dict):
            zenoti_message = str(lookup(body, "Message", default="") or "")
        zenoti_message = zenoti_message.strip()[:200]
        said = f" Zenoti said: “{zenoti_message}”." if zenoti_message else ""
        json_body = readable and isinstance(body, dict)

        if 300 <= status < 400:
            return _mark(
                UpstreamUnavailableError(
                    f"Zenoti's address sent us elsewhere (HTTP {status}): check the base URL on "
                    "the center page.",
                    status=status,
                )
            )
        if status == 401 or code == 401:
            return AuthError(
                "Zenoti refused the API key: check it on the center page (keys expire after a "
                "year).",
                status=status,
                code=code,
            )
        if status == 403 or code == 438:
            return AuthError(
                "Zenoti refused access: the API key may not cover this center, or the feature "
                f"is turned off for it in Zenoti.{said}",
                status=status,
                code=code,
            )
        if status == 429 or code == 429:
            wait = parse_retry_after(headers.get("Retry-After"), time.time())
            if wait is None:
                wait = wait_hint(headers.get("RateLimit-Reset"))
            when = f"in about {max(1, round(wait))} seconds" if wait is not None else "in a minute"
            return _mark(
                RateLimitedError(
                    f"Zenoti's rate limit for this organization was reached: try again {when}.",
                    status=status,
                    code=code,
                    retry_after=wait,
                ),
                transient=True,
            )
        if status == 408:
            return _mark(
                ZenotiTimeoutError(
                    "Zenoti gave up waiting for the request (HTTP 408): try again in a minute.",
                    status=status,
                ),
                transient=True,
            )
        if status >= 500:
            if json_body:
                message = (
                    f"Zenoti had an internal problem (HTTP {status}): try again in a few minutes."
                )
            else:
                message = (
                    f"Zenoti, or a proxy in front of it, answered with an error page (HTTP "
                    f"{status}): it's probably down for a moment; try again in a few minutes."
                )
            return _mark(
                UpstreamUnavailableError(
                    message,
                    status=status,
                    code=code,
                    retry_after=parse_retry_after(headers.get("Retry-After"), time.time()),
                ),
                transient=True,
            )
        if not json_body:
            if status == 404:
                return NotFoundError(
                    "Zenoti answered “not found” (HTTP 404): check the base URL and the center ID "
                    "on the center page.",
                    status=status,
                )
            return UpstreamUnavailableError(
                f"Zenoti's address answered with {_describe_body(response)} instead of data "
                f"(HTTP {status}): check the base URL on the center page.",
                status=status,
            )
        if code == 4072:
            return SlotUnavailableError(
                "That time is no longer available (someone else took it, or the hold ran out): "
                "please pick another time.",
                status=status,
                code=code,
            )
        if code == 502 or status == 404:
            return NotFoundError(
                f"Zenoti couldn't find what was asked for: check the center ID on the center "
                f"page.{said}",
                status=status,
                code=code,
            )
        if code == 503:
            return ValidationError(
                "Zenoti says required information is missing. If this happens when a guest is "
                f"created, the organization may require a referral source: set one in the "
                f"organization settings.{said}",
                status=status,
                code=code,
            )
        if code == 460:
            return ValidationError(
                "This invoice is already paid in full.", status=status, code=code
            )
        if code == 728:
            return ValidationError(
                "This invoice is already closed in Zenoti.", status=status, code=code
            )
        detail = f" (code {code})" if code is not None else ""
        return ValidationError(
            f"Zenoti refused the request{detail}.{said}", status=status, code=code
        )

    def _timeout_error(self, exc, timeout):
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return _mark(
                ZenotiTimeoutError(
                    f"Couldn't reach Zenoti at {_host(self.base_url)} within "
                    f"{_seconds(timeout.connect)}: it may be down, or the base URL is wrong."
                ),
                transient=True,
                unsent=True,
            )
        return _mark(
            ZenotiTimeoutError(
                f"Zenoti didn't answer within {_seconds(timeout.read)}: it may be slow right now; "
                "try again in a minute."
            ),
            transient=True,
        )

    def _deadline_error(self, call):
        return _mark(
            ZenotiTimeoutError(
                f"Zenoti didn't answer in time (gave up after {_seconds(call.seconds)}): try "
                "again in a minute."
            )
        )

    def _network_error(self, exc):
        host = _host(self.base_url)
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return UpstreamUnavailableError(
                "The Zenoti base URL isn't a valid web address (it should look like "
                "https://api.zenoti.com/v1): check it on the center page."
            )
        if isinstance(exc, httpx.ConnectError):
            text = " ".join(str(e) for e in _chain(exc)).lower()
            if any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
                marker in text
                for marker in (
                    "name or service not known",
                    "nodename nor servname",
                    "getaddrinfo",
                    "name resolution",
                )
            ):
                return UpstreamUnavailableError(
                    f"Couldn't find the server {host} (DNS lookup failed): check the base URL on "
                    "the center page."
                )
            if any(isinstance(e, ssl.SSLError) for e in _chain(exc)) or any(
                marker in text for marker in ("ssl", "certificate", "tls")
            ):
                return UpstreamUnavailableError(
                    f"Couldn't open a secure connection to {host} (TLS/certificate problem): "
                    "check the base URL on the center page."
                )
            return _mark(
                UpstreamUnavailableError(
                    f"Couldn't connect to {host}: Zenoti may be down, or the base URL is wrong."
                ),
                transient=True,
                unsent=True,
            )
        # The connection broke after the request went out: it may or may not have been done.
        return _mark(
            UpstreamUnavailableError(
                "The connection to Zenoti broke before its answer was complete: try again in a "
                "minute."
            ),
            transient=True,
        )


def _rows(key, parse_row):
    """A reader for `{key: [rows]}` answers."""
    return lambda r, body: [parse_row(r, row) for row in r.list(body, key)]


def _reservation(r, body):
    if not r.bool(body, "is_reserved", required=True):
        raise SlotUnavailableError(
            "That time was just taken by someone else: please pick another time.", status=200
        )
    return parsing.reservation(r, body)


def _confirmation(r, body):
    if not r.bool(body, "is_confirmed", required=True):
        raise SlotUnavailableError(
            "Zenoti couldn't confirm this time (it was taken, or the hold ran out): "
            "please pick another time.",
            status=200,
        )
    return parsing.confirmation(r, body)


def _payment_link(r, body):
    if not r.bool(body, "success", default=True):
        raise ValidationError("Zenoti didn't open a payment page for this invoice.", status=200)
    return parsing.payment_link(r, body)


def _cancelled(r, body):
    if not r.bool(body, "success", default=True):
        raise ValidationError("Zenoti didn't cancel this booking.", status=200)


def _seconds(value):
    if value < 1:
        return "less than a second"
    whole = round(value)
    return f"{whole} second{'s' if whole != 1 else ''}"


def _is_error(error):
    """A non-null `error` (`Error` in the slots answer); `{}` or code 0 without a message is
    not one."""
    if isinstance(error, dict):
        return bool(lookup(error, "message")) or _int_or_none(lookup(error, "code")) not in (
            None,
            0,
        )
    return bool(error)


def _describe_body(response):
    content_type = response.headers.get("content-type", "").lower()
    head = response.content[:200].lstrip().lower()
    if "html" in content_type or head.startswith((b"<!doctype", b"<html", b"<")):
        return "a web page"
    if not response.content.strip():
        return "an empty answer"
    return "something that isn't JSON (perhaps cut short)"


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _require_center_local(moment):
    """Zenoti's slot times are naive center-local datetimes; an aware one (UTC, say) would
    silently name another hour."""
    if moment.tzinfo is not None:
        raise ValueError("Pass slot times as naive center-local datetimes, as Zenoti lists them.")


def _float_or_none(value):
    """A finite, non-negative number from a header value, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _int_header(value):
    number = _float_or_none(value)
    return int(number) if number is not None else None
