"""booking.funnel against the in-process Zenoti sandbox: every state transition of a booking
session and every failure path of the guest → draft → reserve → [pay] → confirm dance."""

import itertools
import threading
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from booking import funnel
from booking.models import TRANSITIONS, BookingSession, BookingState, Widget, ZenotiCall
from booking.zenoti import budget_key, errors
from booking.zenoti.client import ZenotiClient
from sandbox import actions
from sandbox import models as sb
from sandbox.testing import freeze_clock, reset_faults, set_faults
from tenants.models import Center, ReferralRule

from .conftest import LUMEN_KEY, SANDBOX_URL, SANTA_MONICA_ID

S = BookingState
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"  # the sandbox's "Website" referral source
GOOGLE_ADS = "5d0c3e5a-8a0f-4d57-9d1f-000000000002"
RETURN_URL = "https://book.example/b/lumen/widget/session/paid/"
TEN = time(10, 0)
NEW_GUEST = {
    "first_name": "Nina",
    "last_name": "Newcomb",
    "email": "nina.newcomb@example.com",
    "phone": "+12125550199",
    "marketing_consent": False,
    "notes": "First visit",
    "tz": "Europe/Paris",
}
JANE = {**NEW_GUEST, "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com"}

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


def booking_day():
    """A Wednesday far enough ahead that the demo's appointments and days off are behind."""
    day = timezone.localdate() + timedelta(days=10)
    return day + timedelta(days=(2 - day.weekday()) % 7)


def at(clock_time, day=None):
    return datetime.combine(day or booking_day(), clock_time)


@pytest.fixture
def lumen(org):
    """The organization, sending new guests to Zenoti as "Website" unless a rule says else
    (the sandbox's lumen organization requires a referral source)."""
    org.default_referral_source_id = WEBSITE
    org.default_referral_source_label = "Website"
    org.save()
    return org


@pytest.fixture
def widget(lumen, sandbox_center):
    return Widget.objects.create(organization=lumen, name="Main")


@pytest.fixture
def plain_widget(org):
    """A widget without Zenoti behind it (for tests that never call upstream)."""
    return Widget.objects.create(organization=org, name="Plain")


@pytest.fixture
def santa_monica(lumen, sandbox_lumen, in_process_zenoti):
    return Center.objects.create(
        organization=lumen,
        zenoti_center_id=SANTA_MONICA_ID,
        name="Santa Monica",
        timezone="America/Los_Angeles",
        api_base_url=SANDBOX_URL,
        api_key=LUMEN_KEY,
        payment_required=True,
    )


@pytest.fixture
def fast_failures(settings):
    """Retries give up at once instead of filling ZENOTI_DEADLINE with backoff."""
    settings.ZENOTI_DEADLINE = 0.3


@pytest.fixture
def sandbox_clock(monkeypatch):
    """The sandbox's clock, stopped now: `.advance(minutes=11)` lets its holds lapse."""
    return freeze_clock(monkeypatch, timezone.now())


def calls(**filters):
    return ZenotiCall.objects.filter(**filters).count()


def upstream_since(before):
    return list(
        ZenotiCall.objects.filter(pk__gt=before)
        .order_by("pk")
        .values_list("method", "path_template")
    )


def last_call_pk():
    last = ZenotiCall.objects.order_by("-pk").first()
    return last.pk if last else 0


def browse(session, *, service="Women's Haircut & Style", therapist="Ana", start=None):
    """Service → provider → a listed time, as a guest clicks through."""
    offered = funnel.offered_services(session)
    funnel.choose_service(session, next(s for s in offered if s.name == service))
    provider = None
    if therapist:
        provider = next(t for t in funnel.offered_therapists(session) if t.first_name == therapist)
    funnel.choose_provider(session, provider)
    assert funnel.choose_time(session, start or at(TEN)) == funnel.Outcome(True, "details")
    return session


def guest_at_details(widget, details=NEW_GUEST, *, query=None, center=None, **choices):
    session = funnel.start_session(widget, query or {"utm_source": "newsletter"})
    if center is not None:
        funnel.choose_center(session, center)
    browse(session, **choices)
    funnel.save_details(session, details)
    return session


def held(widget, details=NEW_GUEST, **kwargs):
    session = guest_at_details(widget, details, **kwargs)
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    return session


def appointments(**filters):
    return sb.Appointment.objects.exclude(notes__contains="slot-stolen").filter(**filters)


def sandbox_lumen_org():
    return sb.SandboxOrganization.objects.get(slug="lumen")


def fresh(session):
    return BookingSession.objects.select_related("widget", "center", "organization").get(
        pk=session.pk
    )


# --- starting and browsing ---------------------------------------------------------------


def test_a_session_starts_browsing_on_the_only_center_with_the_visit_recorded(widget):
    session = funnel.start_session(
        widget, {"utm_source": "google", "gclid": "abc", "cf_ref": "https://google.com/"}
    )
    assert session.state == S.BROWSING
    assert session.center.name == "SoHo"
    assert session.landing["params"] == {"utm_source": "google", "gclid": "abc"}
    assert session.landing["referrer"] == "https://google.com/"
    assert funnel.current_step(session) == "service"


def test_choosing_a_center_of_another_organization_raises(widget, other_org):
    stranger = Center.objects.create(
        organization=other_org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa6",
        name="Elsewhere",
        timezone="Europe/London",
        api_key="zk_other",
    )
    session = funnel.start_session(widget, {})
    with pytest.raises(ValueError):
        funnel.choose_center(session, stranger)
    assert fresh(session).center.name == "SoHo"


def test_the_steps_follow_the_guests_choices(widget):
    session = funnel.start_session(widget, {})
    offered = funnel.offered_services(session)
    funnel.choose_service(session, next(s for s in offered if s.name == "Balayage"))
    assert funnel.current_step(session) == "provider"
    funnel.choose_provider(session, None)  # anyone
    assert funnel.current_step(session) == "time"
    assert funnel.choose_time(session, at(TEN)) == funnel.Outcome(True, "details")
    assert funnel.current_step(session) == "details"
    funnel.save_details(session, NEW_GUEST)
    assert (session.state, funnel.current_step(session)) == (S.DETAILS, "details")
    session = fresh(session)
    assert session.local_start == at(TEN)
    assert session.therapist_id == "" and session.provider_chosen
    assert session.email == NEW_GUEST["email"] and session.guest_timezone == "Europe/Paris"


def test_a_time_that_is_not_listed_is_refused(widget):
    session = funnel.start_session(widget, {})
    offered = funnel.offered_services(session)
    funnel.choose_service(session, next(s for s in offered if s.name == "Balayage"))
    funnel.choose_provider(session, None)
    assert funnel.choose_time(session, at(time(10, 5))) == funnel.Outcome(
        False, "time", funnel.TAKEN
    )
    assert fresh(session).starts_at is None


def test_changing_a_choice_drops_the_hold_and_keeps_the_details(widget):
    session = held(widget)
    offered = funnel.offered_services(session)
    funnel.choose_service(session, next(s for s in offered if s.name == "Blowout"))
    session = fresh(session)
    assert session.state == S.BROWSING
    assert (session.reservation_id, session.hold_expires_at, session.starts_at) == ("", None, None)
    assert session.email == NEW_GUEST["email"]


# --- the happy path ----------------------------------------------------------------------


def test_a_new_guest_books_without_payment(widget):
    session = guest_at_details(widget)
    assert session.state == S.DETAILS
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    assert session.state == S.HELD
    assert session.hold_seconds_left() > 9 * 60
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(True, "done")
    session = fresh(session)
    assert session.state == S.CONFIRMED and session.confirmed_at
    appointment = appointments().get(guest__email=NEW_GUEST["email"])
    assert str(appointment.id) == session.appointment_id
    assert str(appointment.invoice_id) == session.invoice_id
    assert appointment.therapist.first_name == "Ana"
    assert timezone.localtime(appointment.start, session.center_zone).replace(tzinfo=None) == (
        at(TEN)
    )
    assert appointment.notes == "First visit"
    guest = sb.Guest.objects.get(email=NEW_GUEST["email"])
    assert (guest.first_name, guest.phone_number) == ("Nina", "2125550199")
    assert not guest.receive_marketing_email
    assert funnel.current_step(session) == "done"


def test_a_new_guests_booking_costs_at_most_five_upstream_calls(widget):
    session = guest_at_details(widget)
    before = last_call_pk()
    funnel.begin_booking(session)
    funnel.confirm(session, payment_return_url=RETURN_URL)
    assert upstream_since(before) == [
        ("GET", "/guests/search"),
        ("POST", "/guests"),
        ("POST", "/bookings"),
        ("POST", "/bookings/{booking_id}/slots/reserve"),
        ("POST", "/bookings/{booking_id}/slots/confirm"),
    ]


def test_the_confirmation_email_is_sent_once_on_commit(
    widget, django_capture_on_commit_callbacks, mailoutbox
):
    session = held(widget)
    with django_capture_on_commit_callbacks(execute=True):
        funnel.confirm(session, payment_return_url=RETURN_URL)
    with django_capture_on_commit_callbacks(execute=True):
        assert funnel.confirm(fresh(session), payment_return_url=RETURN_URL).step == "done"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [NEW_GUEST["email"]]
    assert fresh(session).email_sent_at is not None


def test_an_existing_guest_is_found_by_email_not_created_again(widget):
    before = last_call_pk()
    session = held(widget, JANE)
    assert ("POST", "/guests") not in upstream_since(before)
    assert sb.Guest.objects.filter(email__iexact=JANE["email"]).count() == 1
    jane = sb.Guest.objects.get(email__iexact=JANE["email"])
    assert session.zenoti_guest_id.lower() == str(jane.id)
    funnel.confirm(session, payment_return_url=RETURN_URL)
    assert appointments(guest=jane, booking_id=session.zenoti_booking_id).count() == 1


def test_a_new_guest_gets_the_organizations_default_referral_source(widget):
    held(widget)
    assert str(sb.Guest.objects.get(email=NEW_GUEST["email"]).referral_source_id) == WEBSITE


def test_a_new_guest_gets_the_referral_source_of_the_first_matching_rule(widget, lumen):
    ReferralRule.objects.create(
        organization=lumen,
        field=ReferralRule.Field.UTM_SOURCE,
        value="google",
        referral_source_id=GOOGLE_ADS,
        position=1,
    )
    held(widget, query={"utm_source": "Google", "utm_medium": "cpc"})
    assert str(sb.Guest.objects.get(email=NEW_GUEST["email"]).referral_source_id) == GOOGLE_ADS


def test_without_a_referral_source_where_zenoti_requires_one_the_guest_gets_a_clear_problem(
    widget, lumen
):
    lumen.default_referral_source_id = ""
    lumen.save()
    session = guest_at_details(widget)
    outcome = funnel.begin_booking(session)
    assert outcome == funnel.Outcome(False, "details", funnel.REFUSED)
    session = fresh(session)
    assert session.state == S.DETAILS and session.busy_until is None
    assert session.email == NEW_GUEST["email"] and session.starts_at is not None
    assert funnel.take_problem(session) == funnel.REFUSED
    assert funnel.take_problem(fresh(session)) == ""
    assert not sb.Guest.objects.filter(email=NEW_GUEST["email"]).exists()


def test_changing_the_email_after_a_failed_attempt_searches_zenoti_again(widget):
    session = guest_at_details(widget)
    session.zenoti_guest_id = "stale"
    funnel.save_details(session, {**NEW_GUEST, "email": "other@example.com"})
    assert fresh(session).zenoti_guest_id == ""


def test_new_details_from_the_review_step_drop_the_hold_and_hold_again(widget):
    session = held(widget)
    funnel.save_details(session, {**NEW_GUEST, "notes": "Window seat"})
    session = fresh(session)
    assert session.state == S.DETAILS and session.reservation_id == ""
    assert session.hold_expires_at is None and session.local_start == at(TEN)
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok
    assert appointments().get(guest__email=NEW_GUEST["email"]).notes == "Window seat"


NOOR = {**NEW_GUEST, "first_name": "Noor", "email": "noor@example.com", "phone": "+12125550188"}


def test_another_guest_giving_their_details_after_a_hold_is_booked_as_themselves(widget):
    session = held(widget)
    # Back to the times of the same day, and someone else on the device books for themselves.
    assert funnel.choose_time(session, at(time(11, 0))).ok
    funnel.save_details(session, NOOR)
    assert funnel.begin_booking(session).ok
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok
    booked = appointments().get(pk=fresh(session).appointment_id)
    assert booked.guest.email == NOOR["email"]


def test_new_details_of_another_guest_on_review_never_book_the_previous_guest(widget):
    session = held(widget)
    funnel.save_details(session, NOOR)
    outcome = funnel.begin_booking(session)
    # The first guest's hold may keep the time in Zenoti for a while ("just taken")…
    if outcome.ok:
        funnel.confirm(session, payment_return_url=RETURN_URL)
        # …but the booking is never made in the first guest's name.
        assert appointments().get(pk=fresh(session).appointment_id).guest.email == NOOR["email"]
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


# --- confirming twice ----------------------------------------------------------------------


def test_confirming_twice_books_once_and_both_answers_are_done(widget):
    session = held(widget)
    first = funnel.confirm(session, payment_return_url=RETURN_URL)
    before = last_call_pk()
    again = funnel.confirm(fresh(session), payment_return_url=RETURN_URL)
    stale_tab = funnel.confirm(session, payment_return_url=RETURN_URL)
    assert first == again == stale_tab == funnel.Outcome(True, "done")
    assert upstream_since(before) == []
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_request_finding_the_session_busy_waits_then_says_still_working(widget, settings):
    settings.ZENOTI_DEADLINE = 0.3
    session = held(widget)
    BookingSession.objects.filter(pk=session.pk).update(
        busy_until=timezone.now() + timedelta(seconds=60)
    )
    outcome = funnel.confirm(fresh(session), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(False, "review", funnel.STILL_WORKING)
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


def _race(calls_to_make):
    """Run the calls at the same moment, each on its own thread and database connection."""
    barrier = threading.Barrier(len(calls_to_make))
    results = [None] * len(calls_to_make)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # surfaced in the assertion
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls_to_make)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_tabs_confirming_at_once_book_exactly_once(widget):
    session = held(widget)

    def press_book():
        return funnel.confirm(fresh(session), payment_return_url=RETURN_URL)

    results = _race([press_book, press_book, press_book])
    assert results == [funnel.Outcome(True, "done")] * 3
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1
    assert fresh(session).state == S.CONFIRMED
    assert calls(path_template="/bookings/{booking_id}/slots/confirm") == 1


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_tabs_submitting_the_details_at_once_hold_once_for_one_guest(widget):
    session = guest_at_details(widget)

    def submit():
        return funnel.begin_booking(fresh(session))

    results = _race([submit, submit, submit])
    assert results == [funnel.Outcome(True, "review")] * 3
    assert sb.Guest.objects.filter(email=NEW_GUEST["email"]).count() == 1
    assert sb.Booking.objects.filter(guest__email=NEW_GUEST["email"]).count() == 1
    assert calls(path_template="/bookings/{booking_id}/slots/reserve") == 1


# --- the time was taken, the hold lapsed, the draft went stale ------------------------------


def test_a_time_taken_between_listing_and_reserving_sends_the_guest_back_to_fresh_times(widget):
    session = guest_at_details(widget)
    listed = funnel.day_availability(session, booking_day())
    assert at(TEN) in listed.times
    set_faults("lumen", steal_rate=1.0)
    outcome = funnel.begin_booking(session)
    assert outcome == funnel.Outcome(False, "time", funnel.TAKEN)
    session = fresh(session)
    assert session.state == S.BROWSING
    assert (session.starts_at, session.reservation_id, session.day) == (None, "", booking_day())
    assert session.email == NEW_GUEST["email"] and session.phone == NEW_GUEST["phone"]
    assert session.zenoti_guest_id  # found or created once, kept for the next try
    assert funnel.current_step(session) == "time"
    assert funnel.take_problem(session) == funnel.TAKEN
    reset_faults("lumen")
    before = calls()
    times = funnel.day_availability(session, booking_day()).times
    assert calls() - before == 2  # the day was forgotten: fresh times from Zenoti
    assert at(TEN) not in times and at(time(10, 15)) not in times and at(time(11, 0)) in times
    # The guest picks again and carries on with the details they gave.
    assert funnel.choose_time(session, at(time(11, 0))).ok
    funnel.save_details(session, NEW_GUEST)
    assert funnel.begin_booking(session).ok
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_taken_time_reported_with_http_200_is_just_taken_too(widget):
    session = guest_at_details(widget)
    set_faults("lumen", steal_rate=1.0, business_errors_as_200=True)
    assert funnel.begin_booking(session) == funnel.Outcome(False, "time", funnel.TAKEN)
    assert fresh(session).state == S.BROWSING


def test_submitting_the_details_twice_holds_once(widget):
    session = guest_at_details(widget)
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    before = last_call_pk()
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    assert upstream_since(before) == []
    assert sb.Booking.objects.filter(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_time_booked_by_another_guest_first_is_just_taken(widget):
    first = guest_at_details(widget)
    second = guest_at_details(widget, JANE)
    assert funnel.begin_booking(first).ok
    assert funnel.begin_booking(second) == funnel.Outcome(False, "time", funnel.TAKEN)
    assert fresh(second).state == S.BROWSING


def test_a_hold_that_lapsed_on_both_sides_is_reserved_again_before_confirming(
    widget, sandbox_clock
):
    session = held(widget)
    sandbox_clock.advance(minutes=11)
    BookingSession.objects.filter(pk=session.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )
    outcome = funnel.confirm(fresh(session), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "done")
    session = fresh(session)
    assert session.state == S.CONFIRMED and session.reserve_attempts == 2
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_hold_zenoti_let_lapse_early_is_reserved_again_when_confirm_says_4072(
    widget, sandbox_clock
):
    session = held(widget)
    sandbox_clock.advance(minutes=11)  # our side still thinks the hold is live
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(True, "done")
    assert fresh(session).reserve_attempts == 2
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_lapsed_hold_on_a_time_taken_meanwhile_sends_the_guest_back_to_pick_again(
    widget, sandbox_clock
):
    session = held(widget)
    sandbox_clock.advance(minutes=11)
    actions.steal_slot(sandbox_lumen_org(), session.zenoti_booking_id, at(TEN))
    outcome = funnel.confirm(session, payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(False, "time", funnel.HOLD_LOST)
    session = fresh(session)
    assert session.state == S.BROWSING and session.starts_at is None
    assert session.email == NEW_GUEST["email"]
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


def test_a_stale_draft_is_made_again_transparently_at_confirm(widget):
    session = held(widget)
    old_draft = session.zenoti_booking_id
    sb.Booking.objects.filter(pk=old_draft).delete()
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(True, "done")
    session = fresh(session)
    assert session.zenoti_booking_id != old_draft
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_stale_draft_is_made_again_transparently_when_reserving(widget):
    session = held(widget)
    # Back to the times of the same day: the guest's draft is kept for the next hold…
    assert funnel.choose_time(session, at(time(11, 0))).ok
    funnel.save_details(session, NEW_GUEST)
    old_draft = session.zenoti_booking_id
    assert old_draft
    sb.Booking.objects.filter(pk=old_draft).delete()  # …and Zenoti forgot it meanwhile
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    assert fresh(session).zenoti_booking_id not in ("", old_draft)
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok


# --- Zenoti rate-limited, down or slow -------------------------------------------------------


def forget_budget(center):
    """What a minute's wait does: our shared budget forgets the 429's pause."""
    cache.delete(budget_key(center.api_base_url, center.api_key))


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"rate_limited_rate": 1.0}, funnel.BUSY),
        ({"error_rate": 1.0}, funnel.UNREACHABLE),
        ({"hang_rate": 1.0}, funnel.UNREACHABLE),
    ],
    ids=["rate-limited", "down", "timeouts"],
)
def test_zenoti_failing_at_begin_booking_keeps_everything_and_recovers(
    widget, sandbox_center, fast_failures, knobs, problem
):
    session = guest_at_details(widget)
    set_faults("lumen", **knobs)
    assert funnel.begin_booking(session) == funnel.Outcome(False, "details", problem)
    session = fresh(session)
    assert session.state == S.DETAILS and session.busy_until is None
    assert session.local_start == at(TEN) and session.email == NEW_GUEST["email"]
    assert session.problem == problem
    reset_faults("lumen")
    forget_budget(sandbox_center)
    assert funnel.begin_booking(session) == funnel.Outcome(True, "review")
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1
    assert sb.Guest.objects.filter(email=NEW_GUEST["email"]).count() == 1


def test_our_own_budget_running_out_is_a_busy_message(widget, sandbox_center, fast_failures):
    session = guest_at_details(widget)
    set_faults("lumen", rate_limit=1, rate_burst=1, rate_window_seconds=3600)
    assert funnel.begin_booking(session) == funnel.Outcome(False, "details", funnel.BUSY)
    assert calls(outcome="budget") == 1  # held back by our budget, not sent to Zenoti
    assert fresh(session).state == S.DETAILS
    reset_faults("lumen")
    forget_budget(sandbox_center)
    assert funnel.begin_booking(session).ok


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"rate_limited_rate": 1.0}, funnel.BUSY),
        ({"error_rate": 1.0}, funnel.UNCERTAIN),  # a 5xx on a write may have done it
        ({"hang_rate": 1.0}, funnel.UNCERTAIN),
    ],
    ids=["rate-limited", "down", "timeouts"],
)
def test_zenoti_failing_at_confirm_keeps_the_hold_and_recovers_without_booking_twice(
    widget, sandbox_center, fast_failures, knobs, problem
):
    session = held(widget)
    set_faults("lumen", **knobs)
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(
        False, "review", problem
    )
    session = fresh(session)
    assert session.state == S.HELD and session.busy_until is None and session.reservation_id
    reset_faults("lumen")
    forget_budget(sandbox_center)
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(True, "done")
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


# --- a confirm whose answer was lost -----------------------------------------------------


def test_a_confirm_whose_answer_was_lost_is_found_not_repeated(widget):
    session = held(widget)
    set_faults("lumen", lose_response_rate=1.0)
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(True, "done")
    session = fresh(session)
    booked = appointments().get(guest__email=NEW_GUEST["email"])
    assert session.state == S.CONFIRMED and session.appointment_id == str(booked.id)
    assert not session.confirm_uncertain


@pytest.fixture
def lost_confirm(widget, monkeypatch):
    """A held session whose confirm went through in Zenoti while every answer about it was
    lost: the funnel doesn't know whether the guest is booked."""
    session = held(widget)
    set_faults("lumen", lose_response_rate=1.0)

    def blind(*args, **kwargs):
        raise errors.UpstreamUnavailableError("lost")

    with monkeypatch.context() as patch:
        patch.setattr(ZenotiClient, "_find_confirmed", blind)
        outcome = funnel.confirm(session, payment_return_url=RETURN_URL)
    reset_faults("lumen")
    assert outcome == funnel.Outcome(False, "review", funnel.UNCERTAIN)
    session = fresh(session)
    assert session.state == S.HELD and session.confirm_uncertain
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1
    return session


def test_after_an_uncertain_confirm_the_retry_looks_before_confirming(lost_confirm):
    before = last_call_pk()
    outcome = funnel.confirm(lost_confirm, payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "done")
    assert ("POST", "/bookings/{booking_id}/slots/confirm") not in upstream_since(before)
    session = fresh(lost_confirm)
    assert session.state == S.CONFIRMED and not session.confirm_uncertain
    assert session.appointment_id == str(appointments().get(guest__email=NEW_GUEST["email"]).id)


def test_the_sweeper_settles_an_uncertain_confirm_the_guest_left(lost_confirm):
    assert funnel.sweep()["confirmed"] == 1
    session = fresh(lost_confirm)
    assert session.state == S.CONFIRMED and not session.confirm_uncertain
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_the_sweeper_clears_an_uncertain_confirm_that_did_not_happen(widget, fast_failures):
    session = held(widget)
    set_faults("lumen", error_rate=1.0)  # the confirm never reached the book
    funnel.confirm(session, payment_return_url=RETURN_URL)
    assert fresh(session).confirm_uncertain
    reset_faults("lumen")
    assert funnel.sweep()["confirmed"] == 0
    session = fresh(session)
    assert session.state == S.HELD and not session.confirm_uncertain
    assert funnel.confirm(session, payment_return_url=RETURN_URL).ok
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_an_uncertain_confirm_retried_after_the_hold_lapsed_is_found_not_lost(lost_confirm):
    BookingSession.objects.filter(pk=lost_confirm.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = funnel.confirm(fresh(lost_confirm), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "done")
    assert fresh(lost_confirm).state == S.CONFIRMED


# --- payment -----------------------------------------------------------------------------


@pytest.fixture
def paying(widget, santa_monica):
    """A guest held at Santa Monica (online payment required), on the review step."""
    session = held(widget, center=santa_monica, therapist="Ivy")
    assert session.invoice_id  # reserved with create_invoice
    return session


def sandbox_payment(session):
    return sb.Payment.objects.get(token=session.payment_token)


def test_reviewing_a_paid_service_opens_a_hosted_payment_page(paying):
    outcome = funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "pay")
    session = fresh(paying)
    assert session.state == S.AWAITING_PAYMENT and funnel.current_step(session) == "pay"
    assert session.payment_url.startswith("http://testserver/sandbox/pay/")
    payment = sandbox_payment(session)
    assert str(payment.invoice_id) == session.invoice_id
    assert payment.redirect_uri == RETURN_URL and payment.amount == Decimal("85.00")
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()  # not before paying


def test_coming_back_unpaid_is_back_to_payment_whatever_the_query_string_says(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    outcome = funnel.payment_returned(fresh(paying), status_hint="success")
    assert outcome == funnel.Outcome(False, "pay", funnel.NOT_PAID)
    session = fresh(paying)
    assert session.state == S.AWAITING_PAYMENT and session.amount_paid is None
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


def test_a_declined_card_is_back_to_payment_with_the_reason(paying, client):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    session = fresh(paying)
    page = client.post(
        session.payment_url.removeprefix("http://testserver"),
        {"card_number": "4000000000000002", "expiry": "12/40", "cvc": "123"},
    )
    assert page.status_code == 200 and page.context["declined"]
    outcome = funnel.payment_returned(session, status_hint="failed")
    assert outcome == funnel.Outcome(False, "pay", funnel.DECLINED)
    assert fresh(paying).state == S.AWAITING_PAYMENT


def test_paying_with_3d_secure_confirms_the_booking_with_the_amount_paid(paying, client):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    session = fresh(paying)
    page = client.post(
        session.payment_url.removeprefix("http://testserver"),
        {"card_number": "4000000000003220", "expiry": "12/40", "cvc": "123"},
    )
    assert page.status_code == 302
    back = client.post(page.url, {"outcome": "complete"})
    assert back.status_code == 302 and back.url.startswith(RETURN_URL)
    outcome = funnel.payment_returned(session, status_hint="success")
    assert outcome == funnel.Outcome(True, "done")
    session = fresh(paying)
    assert session.state == S.CONFIRMED and session.amount_paid == Decimal("85.00")
    booked = appointments().get(guest__email=NEW_GUEST["email"])
    assert booked.invoice.status == sb.Invoice.Status.CLOSED  # the paid invoice
    assert str(booked.invoice_id) == session.invoice_id


def test_a_paid_invoice_confirms_and_a_second_return_is_done_too(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert actions.complete_payment(sandbox_payment(fresh(paying)), "4242")
    assert funnel.payment_returned(fresh(paying)) == funnel.Outcome(True, "done")
    assert funnel.payment_returned(fresh(paying)) == funnel.Outcome(True, "done")
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1
    assert fresh(paying).amount_paid == Decimal("85.00")


def test_pressing_pay_twice_opens_one_payment(paying):
    assert funnel.confirm(paying, payment_return_url=RETURN_URL) == funnel.Outcome(True, "pay")
    again = funnel.confirm(fresh(paying), payment_return_url=RETURN_URL)
    assert again == funnel.Outcome(True, "pay")
    assert sb.Payment.objects.count() == 1


def test_pressing_pay_after_the_hold_lapsed_on_a_taken_time_goes_back_to_pick_again(
    paying, sandbox_clock
):
    sandbox_clock.advance(minutes=11)
    actions.steal_slot(sandbox_lumen_org(), paying.zenoti_booking_id, at(TEN))
    BookingSession.objects.filter(pk=paying.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = funnel.confirm(fresh(paying), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(False, "time", funnel.HOLD_LOST)
    session = fresh(paying)
    assert session.state == S.BROWSING and not sb.Payment.objects.exists()


def test_a_payment_made_after_the_time_was_lost_fails_with_a_clear_message(paying, sandbox_clock):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert actions.complete_payment(sandbox_payment(fresh(paying)), "4242")
    sandbox_clock.advance(minutes=11)
    actions.steal_slot(sandbox_lumen_org(), paying.zenoti_booking_id, at(TEN))
    BookingSession.objects.filter(pk=paying.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = funnel.payment_returned(fresh(paying), status_hint="success")
    assert outcome == funnel.Outcome(False, "done", funnel.PAID_BUT_LOST)
    session = fresh(paying)
    assert session.state == S.FAILED and session.ended_at
    assert session.amount_paid == Decimal("85.00")
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


def test_retrying_the_payment_makes_a_new_link(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    first = fresh(paying)
    funnel.payment_returned(first, status_hint="failed")
    outcome = funnel.retry_payment(fresh(paying), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "pay")
    session = fresh(paying)
    assert session.state == S.AWAITING_PAYMENT and session.payment_attempts == 2
    assert session.payment_url and session.payment_token != first.payment_token
    assert actions.complete_payment(sandbox_payment(session), "4242")
    assert funnel.payment_returned(session).ok


def test_a_payment_retried_after_the_hold_ran_low_holds_the_time_again(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    BookingSession.objects.filter(pk=paying.pk).update(
        hold_expires_at=timezone.now() + timedelta(seconds=5)
    )
    outcome = funnel.retry_payment(fresh(paying), payment_return_url=RETURN_URL)
    assert outcome == funnel.Outcome(True, "pay")
    session = fresh(paying)
    assert session.state == S.AWAITING_PAYMENT and session.hold_seconds_left() > 9 * 60
    assert actions.complete_payment(sandbox_payment(session), "4242")
    assert funnel.payment_returned(session).ok
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_a_guest_who_paid_and_closed_the_tab_is_confirmed_by_the_next_sweep(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert actions.complete_payment(sandbox_payment(fresh(paying)), "4242")
    assert funnel.sweep()["confirmed"] == 0  # the guest may be on the way back: not yet
    a_minute_later = timezone.now() + timedelta(seconds=funnel.PAYMENT_CHECK + 1)
    assert funnel.sweep(now=a_minute_later)["confirmed"] == 1
    session = fresh(paying)
    assert session.state == S.CONFIRMED and session.amount_paid == Decimal("85.00")
    booked = appointments().get(guest__email=NEW_GUEST["email"])
    assert booked.invoice.status == sb.Invoice.Status.CLOSED  # on the invoice that was paid
    assert session.reserve_attempts == 1


def test_a_paid_session_the_sweeper_finds_after_the_hold_lapsed_is_still_confirmed(
    paying, sandbox_clock
):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert actions.complete_payment(sandbox_payment(fresh(paying)), "4242")
    sandbox_clock.advance(minutes=11)
    assert funnel.sweep(now=timezone.now() + timedelta(minutes=11))["confirmed"] == 1
    session = fresh(paying)
    assert session.state == S.CONFIRMED and session.amount_paid == Decimal("85.00")
    assert appointments(guest__email=NEW_GUEST["email"]).count() == 1


def test_an_abandoned_payment_expires_after_the_hold_lapses(paying, sandbox_clock):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    invoice_id = fresh(paying).invoice_id
    sandbox_clock.advance(minutes=11)
    done = funnel.sweep(now=timezone.now() + timedelta(minutes=11))
    session = fresh(paying)
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()
    assert (done["expired"], session.state) == (1, S.EXPIRED) and session.ended_at
    assert sb.Invoice.objects.get(pk=invoice_id).status != sb.Invoice.Status.OPEN


def test_coming_back_unpaid_after_the_hold_lapsed_books_nothing(paying, sandbox_clock):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    sandbox_clock.advance(minutes=11)
    outcome = funnel.payment_returned(fresh(paying), status_hint="success")
    assert not outcome.ok
    assert not appointments(guest__email=NEW_GUEST["email"]).exists()


def test_an_abandoned_payment_is_not_expired_while_its_hold_is_live(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    assert funnel.sweep() == {"confirmed": 0, "expired": 0, "abandoned": 0, "failed": 0}
    assert fresh(paying).state == S.AWAITING_PAYMENT


# --- the sweeper -------------------------------------------------------------------------


def test_idle_browsing_and_details_sessions_are_abandoned(widget, settings):
    settings.BOOKING_SESSION_IDLE_HOURS = 24
    idle_browsing = funnel.start_session(widget, {})
    idle_details = guest_at_details(widget)
    active = funnel.start_session(widget, {})
    long_ago = timezone.now() - timedelta(hours=25)
    BookingSession.objects.filter(pk__in=[idle_browsing.pk, idle_details.pk]).update(
        updated_at=long_ago
    )
    assert funnel.sweep()["abandoned"] == 2
    assert fresh(idle_browsing).state == S.ABANDONED and fresh(idle_browsing).ended_at
    assert fresh(idle_details).state == S.ABANDONED
    assert fresh(active).state == S.BROWSING


def test_held_sessions_past_their_expiry_expire(widget):
    session = held(widget)
    BookingSession.objects.filter(pk=session.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert funnel.sweep()["expired"] == 1
    session = fresh(session)
    assert session.state == S.EXPIRED and session.ended_at and session.busy_until is None
    assert funnel.current_step(session) == "done"
    assert funnel.confirm(session, payment_return_url=RETURN_URL) == funnel.Outcome(False, "done")


def test_sessions_with_a_live_lease_are_left_to_their_request(widget):
    session = held(widget)
    BookingSession.objects.filter(pk=session.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1),
        busy_until=timezone.now() + timedelta(seconds=30),
    )
    assert funnel.sweep()["expired"] == 0
    assert fresh(session).state == S.HELD


def test_the_sweeper_retries_later_when_zenoti_is_down(paying, fast_failures, sandbox_clock):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    set_faults("lumen", error_rate=1.0)
    sandbox_clock.advance(minutes=11)
    assert funnel.sweep(now=timezone.now() + timedelta(minutes=11))["expired"] == 0
    session = fresh(paying)
    assert session.state == S.AWAITING_PAYMENT and session.busy_until is None


def test_the_scheduled_job_runs_the_sweeper(widget):
    from booking import tasks

    session = held(widget)
    BookingSession.objects.filter(pk=session.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.sweep_booking_sessions()["expired"] == 1


# --- the state machine -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(S.values, S.values)), ids=lambda s: str(s)
)
def test_only_the_allowed_transitions_happen(plain_widget, current, target):
    session = BookingSession.objects.create(
        organization=plain_widget.organization,
        widget=plain_widget,
        state=current,
        busy_until=timezone.now() + timedelta(seconds=60),
    )
    allowed = target in TRANSITIONS[current]
    assert session.can_move_to(target) == allowed
    if allowed or current == target:
        funnel._release(session, target)
        assert fresh(session).state == target and fresh(session).busy_until is None
    else:
        with pytest.raises(ValueError):
            funnel._release(session, target)
        assert fresh(session).state == current


def test_finished_states_are_final():
    for state in (S.CONFIRMED, S.FAILED, S.EXPIRED, S.ABANDONED):
        assert TRANSITIONS[state] == set()


def test_choices_are_refused_while_waiting_for_payment(paying):
    funnel.confirm(paying, payment_return_url=RETURN_URL)
    session = fresh(paying)
    with pytest.raises(funnel.Busy):
        funnel.choose_provider(session, None)
    with pytest.raises(funnel.Busy):
        funnel.save_details(session, NEW_GUEST)
    assert fresh(paying).state == S.AWAITING_PAYMENT


def test_begin_booking_outside_the_details_step_changes_nothing(widget):
    session = funnel.start_session(widget, {})
    before = calls()
    outcome = funnel.begin_booking(session)
    assert outcome == funnel.Outcome(True, "service")
    assert calls() == before and fresh(session).state == S.BROWSING
