"""The guest funnel's state machine: what a booking session may do next, and Zenoti's booking
dance underneath (guest → draft → reserve → [pay] → confirm).

Every write is a conditional UPDATE on the session row. Work that talks to Zenoti first takes a
short lease (`busy_until`) with one such UPDATE and gives it back with the result, so two tabs,
a double click or the sweeper never run the same step twice — and no Zenoti call happens inside
a database transaction (the rate-limit budget may live in the database cache, whose rows must
stay visible to other processes).

Payment: reserve with `create_invoice`, send the guest to the hosted payment page, and confirm
only once the invoice reads paid. An unpaid appointment never lands in the salon's book, and a
guest who walks away from the payment page costs nothing: the hold lapses and Zenoti voids the
temporary invoice by itself. (Confirm-then-pay would leave booked-but-unpaid appointments to
cancel whenever a guest gives up.) The price of the choice: a guest who pays after the hold
lapsed (10 minutes) may lose the time — rare, logged, and the session fails with a message
saying the payment was received.
"""

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from attribution import events, outbox, touches
from booking import availability, catalog, emails
from booking.models import BookingSession, BookingState
from booking.services import client_for
from booking.zenoti import errors
from booking.zenoti.types import NewGuest
from tenants.models import Center
from tenants.referral import referral_source_for

logger = logging.getLogger(__name__)

S = BookingState
# Ending states and the booking event that announces them.
OUTCOME_EVENTS = {
    S.CONFIRMED: "booking_completed",
    S.FAILED: "booking_failed",
    S.EXPIRED: "booking_abandoned",
    S.ABANDONED: "booking_abandoned",
}
# Seconds a request may hold a session while it talks to Zenoti: longer than the longest
# step (four calls, each within ZENOTI_DEADLINE), so a live lease is never taken over.
LEASE_SECONDS = 4 * settings.ZENOTI_DEADLINE + 10
# Re-reserve before confirming when less than this is left on the hold.
HOLD_MARGIN_SECONDS = 15
WAIT_POLL_SECONDS = 0.2
SWEEP_BATCH = 50
# Seconds after which the sweeper reads the invoice of a session still awaiting payment.
PAYMENT_CHECK = 60
MAX_PARAMS = 60
MAX_VALUE = 500
EMBED_MODES = {"inline": "inline", "popup": "popup", "1": "inline"}

# In the guest's words.
TAKEN = "Sorry, that time was just taken. Here are the times still free that day."
HOLD_LOST = (
    "Your hold on that time ran out and someone else has booked it. Please pick another time."
)
BUSY = (
    "The salon's booking system is busy right now. Your details are saved: "
    "please try again in a minute."
)
UNREACHABLE = (
    "We couldn't reach the salon's booking system. Your details are saved: "
    "please try again in a minute."
)
UNCERTAIN = (
    "We're still waiting for the salon's booking system to confirm. Please try again in a "
    "moment: you won't be booked twice."
)
UNAVAILABLE = "Online booking isn't available right now. Please call the salon to book."
REFUSED = (
    "The salon's booking system couldn't take these details. Please check them, "
    "or call the salon to book."
)
STILL_WORKING = "We're still working on your booking: this page will update in a moment."
DECLINED = "Your payment didn't go through. You can try again, with the same card or another."
NOT_PAID = "Your payment wasn't completed. You can try again when you're ready."
PAID_BUT_LOST = (
    "Your payment was received, but the time was released before we could confirm it. "
    "The salon has been told and will contact you to rebook or refund."
)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    step: str
    problem: str = ""


class Busy(Exception):
    """Another request holds the session's lease."""


# --- what the funnel offers ---------------------------------------------------------------


def offered_centers(widget):
    """The enabled centers the widget offers, remembered on the widget instance: a request
    asks several times (its steps, its template) and the answer does not change meanwhile."""
    if not hasattr(widget, "_offered_centers"):
        centers = Center.objects.enabled().filter(organization=widget.organization)
        if widget.centers.exists():
            centers = centers.filter(widgets=widget)
        widget._offered_centers = list(centers.order_by("name", "pk"))
    return widget._offered_centers


def offered_services(session):
    return [s for s in catalog.services(session.center) if session.widget.offers(s)]


def find_service(session, service_id):
    wanted = (service_id or "").lower()
    return next((s for s in offered_services(session) if s.id.lower() == wanted), None)


def offered_therapists(session):
    return catalog.therapists(session.center, session.service_id)


def day_availability(session, day):
    return availability.day(session.center, session.service_id, session.therapist_id, day)


def current_step(session):
    if session.state in (S.CONFIRMED, S.FAILED, S.EXPIRED, S.ABANDONED):
        return "done"
    if session.state == S.AWAITING_PAYMENT:
        return "pay"
    if session.state == S.HELD:
        return "review"
    if session.center_id is None:
        return "center"
    if not session.service_id:
        return "service"
    if session.widget.allow_provider_choice and not session.provider_chosen:
        return "provider"
    if session.starts_at is None:
        return "time"
    return "details"


def take_problem(session):
    """The message to show the guest once (what went wrong on the last step)."""
    problem = session.problem
    if problem:
        BookingSession.objects.filter(pk=session.pk, problem=problem).update(problem="")
        session.problem = ""
    return problem


# --- starting and browsing ----------------------------------------------------------------


def _bounded(value, limit=MAX_VALUE):
    # Without control characters: PostgreSQL's jsonb refuses a NUL anywhere in a document.
    return touches.clean(value, limit)


def _json_param(raw):
    """A JSON object handed over by the embed loader (cookies, first touch), bounded."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {_bounded(k, 64): _bounded(v) for k, v in list(value.items())[:20] if v is not None}


def landing_from(query, referrer=""):
    """What the funnel's first request says about where the guest came from: its own query
    (UTM parameters and click ids, passed through by the loader) and the loader's `cf_*`
    facts. Names keep their case; values are bounded."""
    params = {}
    for name in list(query.keys())[:MAX_PARAMS]:
        if name.startswith("cf_") or name == "embed":
            continue
        value = query.get(name)
        if value:
            params[_bounded(name, 64)] = _bounded(value)
    return {
        "params": params,
        "referrer": _bounded(query.get("cf_ref") or referrer, 1000),
        "cf_host": _bounded(query.get("cf_host", ""), 1000),
        "cookies": _json_param(query.get("cf_ck")),
        "first_touch": _json_param(query.get("cf_ft")),
        "last_touch": _json_param(query.get("cf_lt")),
        # How the funnel is shown: "inline" or "popup" inside a host page, "" on its own.
        "embed": EMBED_MODES.get(query.get("embed"), ""),
    }


def start_session(widget, query, *, referrer="", user_agent=""):
    centers = offered_centers(widget)
    landing = landing_from(query, referrer)
    # The widget's own link, as the guest opened it (the landing page when not embedded).
    link = reverse("booking-funnel-start", args=[widget.organization.slug, widget.code])
    landing["url"] = f"{settings.SITE_URL}{link}" + (
        f"?{urlencode(landing['params'])}" if landing["params"] else ""
    )
    now = timezone.now()
    first_touch, last_touch, first_touch_at = touches.capture(
        landing, user_agent=user_agent, now=now
    )
    return BookingSession.objects.create(
        organization=widget.organization,
        widget=widget,
        landing=landing,
        first_touch=first_touch,
        last_touch=last_touch,
        first_touch_at=first_touch_at,
        center=centers[0] if len(centers) == 1 else None,
        created_at=now,
        updated_at=now,
    )


def _update(session, allowed_states, **fields):
    """A conditional update: only while the session is in one of `allowed_states` and no
    request holds its lease. Raises Busy otherwise."""
    now = timezone.now()
    fields["updated_at"] = now
    updated = (
        BookingSession.objects.filter(pk=session.pk, state__in=allowed_states)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
        .update(**fields)
    )
    if not updated:
        session.refresh_from_db()
        raise Busy
    for name, value in fields.items():
        setattr(session, name, value)


CHOOSING = (S.BROWSING, S.DETAILS, S.HELD)
NO_HOLD = {
    "reservation_id": "",
    "hold_expires_at": None,
    "invoice_id": "",
    "state": S.BROWSING,
}


def _choose(session, **fields):
    """Change a browsing choice. A new choice drops a hold on the old one (it lapses in Zenoti
    by itself) and leaves the guest's details as they were."""
    if session.state in (S.DETAILS, S.HELD):
        fields = {**NO_HOLD, **fields}
    _update(session, CHOOSING, **fields)


def choose_center(session, center):
    if center.organization_id != session.organization_id:
        raise ValueError("center of another organization")
    if center.pk == session.center_id and session.state == S.BROWSING:
        return
    _choose(
        session,
        center=center,
        service_id="",
        service_name="",
        therapist_id="",
        therapist_name="",
        provider_chosen=False,
        starts_at=None,
        day=None,
        zenoti_booking_id="",
    )


def choose_service(session, service):
    _choose(
        session,
        service_id=service.id,
        service_name=service.name[:200],
        duration_minutes=service.duration or None,
        price=service.price,
        therapist_id="",
        therapist_name="",
        provider_chosen=False,
        starts_at=None,
        zenoti_booking_id="",
    )


def choose_provider(session, therapist):
    """`therapist` None means anyone available."""
    _choose(
        session,
        therapist_id=therapist.id if therapist else "",
        therapist_name=(therapist.name[:200] if therapist else ""),
        provider_chosen=True,
        starts_at=None,
        zenoti_booking_id="",
    )


def choose_time(session, local_start):
    """Pick a listed free time (naive, center-local)."""
    if local_start not in day_availability(session, local_start.date()).times:
        return Outcome(False, "time", _problem(session, TAKEN))
    zone = session.center_zone
    starts_at = local_start.replace(tzinfo=zone)
    fields = {"starts_at": starts_at, "day": local_start.date()}
    if session.day != local_start.date():
        fields["zenoti_booking_id"] = ""  # a draft is for one date
    _choose(session, **fields)
    return Outcome(True, "details")


def save_details(session, cleaned):
    fields = {
        "first_name": cleaned["first_name"],
        "last_name": cleaned["last_name"],
        "email": cleaned["email"],
        "phone": cleaned["phone"],
        "marketing_consent": cleaned.get("marketing_consent", False),
        "notes": cleaned.get("notes", ""),
        "guest_timezone": (cleaned.get("tz") or "")[:64],
        "state": S.DETAILS,
    }
    if cleaned["email"].lower() != session.email.lower():
        # Another person: search Zenoti again, and make a draft in their name.
        fields.update(zenoti_guest_id="", zenoti_booking_id="")
    if session.state == S.HELD:
        # Back from review with new details: the hold goes (it is made again for them).
        fields.update(reservation_id="", hold_expires_at=None, invoice_id="")
    _update(session, (S.BROWSING, S.DETAILS, S.HELD), **fields)


def note_timezone(session, tz):
    """The guest's browser time zone (to say when the salon's differs)."""
    tz = (tz or "")[:64]
    if tz and tz != session.guest_timezone:
        BookingSession.objects.filter(pk=session.pk).update(guest_timezone=tz)
        session.guest_timezone = tz


# --- the lease -----------------------------------------------------------------------------


def _claim(session, states):
    """Take the session's lease while it is in `states`; False when someone else has it or the
    state moved on."""
    now = timezone.now()
    claimed = (
        BookingSession.objects.filter(pk=session.pk, state__in=states)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
        .update(busy_until=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
    )
    session.refresh_from_db()
    return bool(claimed)


def _save(session, **fields):
    """Record progress while holding the lease (a Zenoti id as soon as we have it, so a retry
    continues from there)."""
    fields["updated_at"] = timezone.now()
    BookingSession.objects.filter(pk=session.pk).update(**fields)
    for name, value in fields.items():
        setattr(session, name, value)


def _release(session, state=None, **fields):
    """Give the lease back, moving to `state` when given (checked against TRANSITIONS). An
    ending state is announced (funnel event, webhook outbox) in the same transaction."""
    announce = None
    if state is not None and state != session.state:
        if not session.can_move_to(state):
            raise ValueError(f"{session.state} → {state} is not allowed")
        fields["state"] = state
        if state in (S.FAILED, S.EXPIRED, S.ABANDONED):
            fields["ended_at"] = timezone.now()
        announce = OUTCOME_EVENTS.get(state)
        if announce == "booking_abandoned" and session.started_at is None:
            announce = None  # left before giving details: nothing had begun
    with transaction.atomic():
        _save(session, busy_until=None, **fields)
        if announce:
            _announce(session, announce)


def _announce(session, event_type):
    """A booking event: a funnel event for analytics and an outbox row for webhooks. Call it
    inside the transaction of the state change."""
    outbox.emit(session, event_type)
    events.record(session, event_type)


def _wait_for_lease(session, seconds):
    """Another request is working on this session: wait (briefly) for its result."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        time.sleep(WAIT_POLL_SECONDS)
        session.refresh_from_db()
        if session.busy_until is None or session.busy_until < timezone.now():
            return True
    return False


def _after_waiting(session, seconds=None):
    seconds = settings.ZENOTI_DEADLINE if seconds is None else seconds
    if not _wait_for_lease(session, seconds):
        return Outcome(False, current_step(session), _problem(session, STILL_WORKING))
    return Outcome(session.state not in (S.FAILED, S.EXPIRED), current_step(session))


# --- Zenoti's side -------------------------------------------------------------------------


def _aware(session, naive):
    return naive.replace(tzinfo=session.center_zone) if naive else None


def _referral_source(session):
    """The rules see the last non-direct touch: the visit that brought the guest to book."""
    facts = touches.rule_facts(session.last_touch or session.first_touch or {})
    return referral_source_for(session.organization, facts).source_id or None


def _guest(session, client):
    if session.zenoti_guest_id:
        return session.zenoti_guest_id
    guest = client.find_or_create_guest(
        NewGuest(
            center_id=session.center.zenoti_center_id,
            first_name=session.first_name,
            last_name=session.last_name,
            email=session.email,
            phone=session.phone,
            referral_source_id=_referral_source(session),
            receive_marketing_email=session.marketing_consent,
            receive_marketing_sms=session.marketing_consent,
        ),
        # By email, as the salon's own web store does: a second search by phone would cost a
        # call per new guest and could pick a family member sharing the number.
        search_phone=False,
    )
    _save(session, zenoti_guest_id=guest.id)
    return guest.id


def _draft(session, client):
    booking_id = client.create_booking(
        session.center.zenoti_center_id,
        session.day,
        session.service_id,
        therapist_id=session.therapist_id or None,
        guest_id=session.zenoti_guest_id,
    )
    _save(session, zenoti_booking_id=booking_id)
    return booking_id


def _reserve(session, client):
    """Hold the session's time on its guest-bound draft (made now when missing; made again
    when Zenoti no longer knows it). Raises SlotUnavailableError when the time is gone."""
    if not session.zenoti_booking_id:
        _draft(session, client)
    _save(session, reserve_attempts=session.reserve_attempts + 1)
    create_invoice = session.center.payment_required
    try:
        reservation = client.reserve_slot(
            session.zenoti_booking_id, session.local_start, create_invoice=create_invoice
        )
    except errors.NotFoundError:
        _draft(session, client)  # the draft went stale: a fresh one, transparently
        reservation = client.reserve_slot(
            session.zenoti_booking_id, session.local_start, create_invoice=create_invoice
        )
    expires = _aware(session, reservation.expiry_time)
    if expires is None:
        expires = timezone.now() + timedelta(minutes=10)
    _save(
        session,
        reservation_id=reservation.reservation_id,
        hold_expires_at=expires,
        invoice_id=reservation.invoice_id or "",
        held_at=timezone.now(),
    )


def _lost_time(session):
    """The guest's time is gone: back to the time step of the same day, with fresh times."""
    availability.forget(session.center, session.service_id, session.therapist_id, session.day)
    _release(session, S.BROWSING, starts_at=None, reservation_id="", hold_expires_at=None)


def _upstream_problem(session, exc, state=None):
    """A failure of Zenoti's (or of our budget) that the guest can retry: keep everything."""
    logger.warning("Booking session %s: Zenoti said %r", session.code, exc)
    if session.confirm_uncertain:
        problem = UNCERTAIN
    elif isinstance(exc, errors.RateLimitedError):
        problem = BUSY
    elif isinstance(exc, errors.AuthError | errors.NotFoundError):
        problem = UNAVAILABLE
    elif isinstance(exc, errors.ValidationError):
        problem = REFUSED
    else:
        problem = UNREACHABLE
    _release(session, state, problem=problem)
    return Outcome(False, current_step(session), problem)


def begin_booking(session):
    """After the guest's details: find or create the guest in Zenoti, make the guest's draft
    and hold the chosen time. → HELD (review), or back to a step with the reason."""
    if not _claim(session, (S.DETAILS,)):
        return _after_waiting(session)
    if session.started_at is None:
        with transaction.atomic():
            _save(session, started_at=timezone.now())
            _announce(session, "booking_started")
    try:
        with client_for(session.center) as client:
            _guest(session, client)
            try:
                _reserve(session, client)
            except errors.SlotUnavailableError:
                _lost_time(session)
                return Outcome(False, "time", _problem(session, TAKEN))
    except errors.ZenotiError as exc:
        return _upstream_problem(session, exc)
    _release(session, S.HELD)
    return Outcome(True, "review")


def _problem(session, text):
    _save(session, problem=text)
    return text


def _confirmed(session, confirmation):
    item = confirmation.items[0] if confirmation.items else None
    fields = {
        "invoice_id": confirmation.invoice_id or session.invoice_id,
        "confirmed_at": timezone.now(),
        "confirm_uncertain": False,
        "problem": "",
    }
    if item is not None:
        fields["appointment_id"] = item.appointment_id
        if item.therapist_name:
            fields["therapist_name"] = item.therapist_name[:200]
        if item.therapist_id:
            fields["therapist_id"] = item.therapist_id
    _release(session, S.CONFIRMED, **fields)
    session_id = session.pk
    transaction.on_commit(
        lambda: async_task(
            "booking.tasks.send_booking_confirmation",
            session_id,
            task_name=f"booking-confirmation-{session_id}",
        )
    )
    return Outcome(True, "done")


def _confirm_upstream(session, client):
    """Confirm the held time, re-reserving it first when the hold is (nearly) gone. Raises
    SlotUnavailableError when the time can't be had any more."""
    if session.confirm_uncertain:
        # Look first: our own earlier confirm may have booked the time (and would make it
        # look taken to a new reservation).
        found = client.find_confirmed(
            session.zenoti_guest_id, session.service_id, session.local_start
        )
        if found:
            return found
    if session.hold_seconds_left() < HOLD_MARGIN_SECONDS:
        _reserve(session, client)
    _save(session, confirm_attempts=session.confirm_attempts + 1)
    try:
        return _safely_confirm(session, client)
    except errors.SlotUnavailableError:
        # The hold lapsed meanwhile (4072): hold the same time again if it is still free.
        _reserve(session, client)
        return _safely_confirm(session, client)
    except errors.NotFoundError:
        _draft(session, client)
        _reserve(session, client)
        return _safely_confirm(session, client)


def _safely_confirm(session, client):
    try:
        return client.confirm_booking_safely(
            session.zenoti_booking_id,
            guest_id=session.zenoti_guest_id,
            service_id=session.service_id,
            start_time=session.local_start,
            notes=session.notes or None,
        )
    except (errors.ZenotiTimeoutError, errors.UpstreamUnavailableError):
        # Maybe booked, maybe not: the next try (or the sweeper) looks before confirming.
        _save(session, confirm_uncertain=True)
        raise


def confirm(session, *, payment_return_url):
    """The guest pressed "Book" (or "Continue to payment") on the review step."""
    if session.state != S.HELD:
        if session.busy_until and session.busy_until > timezone.now():
            return _after_waiting(session)
        return Outcome(session.state in (S.CONFIRMED, S.AWAITING_PAYMENT), current_step(session))
    if not _claim(session, (S.HELD,)):
        return _after_waiting(session)
    try:
        with client_for(session.center) as client:
            if session.center.payment_required:
                return _start_payment(session, client, payment_return_url)
            try:
                confirmation = _confirm_upstream(session, client)
            except errors.SlotUnavailableError:
                _lost_time(session)
                return Outcome(False, "time", _problem(session, HOLD_LOST))
    except errors.ZenotiError as exc:
        return _upstream_problem(session, exc)
    return _confirmed(session, confirmation)


def _start_payment(session, client, return_url):
    if session.hold_seconds_left() < HOLD_MARGIN_SECONDS or not session.invoice_id:
        try:
            _reserve(session, client)
        except errors.SlotUnavailableError:
            _lost_time(session)
            return Outcome(False, "time", _problem(session, HOLD_LOST))
    try:
        link = client.create_online_payment(
            session.invoice_id, center_id=session.center.zenoti_center_id, redirect_uri=return_url
        )
    except errors.ValidationError as exc:
        if exc.code != 460:  # 460: paid in full already (a retry after a lost answer)
            raise
        _release(session, S.AWAITING_PAYMENT)
        return payment_returned(session)
    _release(
        session,
        S.AWAITING_PAYMENT,
        payment_url=link.hosted_payment_uri,
        payment_token=link.token_id,
        payment_attempts=session.payment_attempts + 1,
    )
    return Outcome(True, "pay")


def retry_payment(session, *, payment_return_url):
    """A new hosted-payment link after a declined or abandoned payment."""
    if not _claim(session, (S.AWAITING_PAYMENT,)):
        return _after_waiting(session)
    try:
        with client_for(session.center) as client:
            invoice = client.get_invoice(session.invoice_id)
            if _is_paid(invoice):
                return _finish_paid(session, client, invoice)
            if session.hold_seconds_left() < HOLD_MARGIN_SECONDS:
                _release(session, S.HELD)
                _claim(session, (S.HELD,))
            return _start_payment(session, client, payment_return_url)
    except errors.ZenotiError as exc:
        return _upstream_problem(session, exc)


def _is_paid(invoice):
    # Not `is_closed` alone: a lapsed hold's voided invoice is closed too, and unpaid.
    return invoice.total > 0 and invoice.balance <= 0


def _finish_paid(session, client, invoice):
    _save(session, amount_paid=invoice.paid)
    try:
        confirmation = _confirm_upstream(session, client)
    except errors.SlotUnavailableError:
        logger.error(
            "Booking session %s: paid invoice %s but the time was lost before confirming",
            session.code,
            session.invoice_id,
        )
        _release(session, S.FAILED, problem=PAID_BUT_LOST)
        return Outcome(False, "done", PAID_BUT_LOST)
    return _confirmed(session, confirmation)


def payment_returned(session, status_hint=""):
    """The guest is back from the hosted payment page. Whether they paid is read from the
    invoice; `status_hint` (the query string's word for it) only chooses the wording."""
    if session.state != S.AWAITING_PAYMENT:
        if session.busy_until and session.busy_until > timezone.now():
            return _after_waiting(session)
        return Outcome(session.state == S.CONFIRMED, current_step(session))
    if not _claim(session, (S.AWAITING_PAYMENT,)):
        return _after_waiting(session)
    try:
        with client_for(session.center) as client:
            invoice = client.get_invoice(session.invoice_id)
            if _is_paid(invoice):
                return _finish_paid(session, client, invoice)
    except errors.ZenotiError as exc:
        return _upstream_problem(session, exc)
    problem = DECLINED if status_hint in ("declined", "failed") else NOT_PAID
    _release(session, payment_url="", problem=problem)
    return Outcome(False, "pay", problem)


# --- the sweeper ---------------------------------------------------------------------------


def sweep(now=None):
    """Scheduled job: settle sessions nobody will come back to. Returns what it did, by kind.

    - held or awaiting payment past the hold's expiry: a paid invoice is confirmed (the guest
      paid and closed the tab), an uncertain confirm is looked up, the rest expire (Zenoti
      releases the hold and voids its temporary invoice by itself; we cancel unpaid invoices
      anyway, so nothing lingers);
    - browsing or details idle for BOOKING_SESSION_IDLE_HOURS: abandoned.
    """
    now = now or timezone.now()
    done = {"confirmed": 0, "expired": 0, "abandoned": 0, "failed": 0}
    due = (
        BookingSession.objects.filter(state__in=(S.HELD, S.AWAITING_PAYMENT))
        .filter(
            Q(hold_expires_at__lt=now)
            | Q(confirm_uncertain=True)
            # A guest who paid and closed the tab: confirm while the hold still stands.
            | Q(state=S.AWAITING_PAYMENT, updated_at__lt=now - timedelta(seconds=PAYMENT_CHECK))
        )
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
        .select_related("center", "organization", "widget")
        .order_by("hold_expires_at")[:SWEEP_BATCH]
    )
    for session in due:
        try:
            result = settle(session, now=now)
        except errors.ZenotiError as exc:
            logger.warning("Sweeper: session %s not settled yet: %s", session.code, exc)
            _release(session)
            continue
        if result:
            done[result] += 1
    for session_id in emails.resend_unsent(now):
        async_task("booking.tasks.send_booking_confirmation", session_id)
    idle_since = now - timedelta(hours=settings.BOOKING_SESSION_IDLE_HOURS)
    idle = BookingSession.objects.filter(
        state__in=(S.BROWSING, S.DETAILS), updated_at__lt=idle_since
    )
    # Sessions that never began a booking end quietly, in bulk; the others are announced.
    done["abandoned"] = idle.filter(started_at__isnull=True).update(
        state=S.ABANDONED, ended_at=now, updated_at=now
    )
    for session in idle.filter(started_at__isnull=False).select_related(
        "center", "organization", "widget"
    )[:SWEEP_BATCH]:
        if _claim(session, (S.BROWSING, S.DETAILS)):
            _release(session, S.ABANDONED)
            done["abandoned"] += 1
    return done


def settle(session, now=None):
    """Settle one held / awaiting-payment session the guest left (see sweep)."""
    now = now or timezone.now()
    states = (S.HELD, S.AWAITING_PAYMENT)
    if not _claim(session, states):
        return None
    lapsed = session.hold_expires_at is None or session.hold_expires_at < now
    with client_for(session.center, priority="background") as client:
        if session.state == S.AWAITING_PAYMENT and session.invoice_id:
            invoice = client.get_invoice(session.invoice_id)
            if _is_paid(invoice):
                outcome = _finish_paid(session, client, invoice)
                return "confirmed" if outcome.ok else "failed"
        if session.confirm_uncertain:
            found = client.find_confirmed(
                session.zenoti_guest_id, session.service_id, session.local_start
            )
            if found:
                _confirmed(session, found)
                return "confirmed"
            if not lapsed:
                # Not booked (yet): the guest may still press Book again; try no blind write.
                _release(session, confirm_uncertain=False)
                return None
        if not lapsed:
            _release(session)
            return None
        if session.invoice_id:
            _cancel_quietly(session, client)
    _release(session, S.EXPIRED)
    return "expired"


def _cancel_quietly(session, client):
    # Zenoti voids a lapsed hold's invoice itself: "already closed" is the usual answer.
    with contextlib.suppress(errors.ValidationError):
        client.cancel_invoice(session.invoice_id, comments="Online booking not completed")


def local_datetime(value):
    """Parse a slot value from a form ("2026-12-01T09:15:00", naive center-local)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is not None:
        return None
    return parsed.replace(second=0, microsecond=0)
