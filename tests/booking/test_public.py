"""The guest funnel's pages (booking/views/public.py) against the in-process Zenoti sandbox:
every step as a page and as an htmx partial, the plain-form path end to end, tenancy (404s),
the embed headers, no cookies, the details form's errors, payment, the calendar file."""

import html
import json
import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from booking import funnel
from booking.models import BookingSession, BookingState, Widget
from sandbox import actions
from sandbox import models as sb
from tenants.models import Center

from .conftest import LUMEN_KEY, SANDBOX_URL, SANTA_MONICA_ID

S = BookingState
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"  # the sandbox's "Website" referral source
HTMX = {"HTTP_HX_REQUEST": "true"}
HAIRCUT = "Women's Haircut & Style"
GUEST = {
    "first_name": "Nina",
    "last_name": "Newcomb",
    "email": "nina.newcomb@example.com",
    "phone": "(212) 555-0199",
    "notes": "First visit",
    "tz": "Europe/Paris",
}


def booking_day():
    """A Wednesday far enough ahead that the demo's appointments and days off are behind."""
    day = timezone.localdate() + timedelta(days=10)
    return day + timedelta(days=(2 - day.weekday()) % 7)


TEN = datetime.combine(booking_day(), time(10, 0))


@pytest.fixture
def lumen(org):
    # The sandbox's lumen organization refuses new guests without a referral source.
    org.default_referral_source_id = WEBSITE
    org.save()
    return org


@pytest.fixture
def widget(lumen, sandbox_center):
    return Widget.objects.create(
        organization=lumen,
        name="Website",
        allowed_origins=["https://salon.example", "https://www.salon.example"],
        thank_you_text="Parking is on Greene St.",
    )


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


def start_url(widget, query=""):
    return f"/b/{widget.organization.slug}/{widget.code}/{query}"


def begin(client, widget, query=""):
    """Open the widget's link; returns the session and the URL of its first step."""
    response = client.get(start_url(widget, query))
    assert response.status_code == 303
    url = response["Location"]
    return BookingSession.objects.get(code=url.split("/")[4]), url


def step_url(session, step):
    return f"/b/{session.organization.slug}/{session.widget.code}/{session.code}/{step}/"


def fresh(session):
    return BookingSession.objects.select_related("widget", "center", "organization").get(
        pk=session.pk
    )


def service_id(session, name=HAIRCUT):
    return next(s.id for s in funnel.offered_services(fresh(session)) if s.name == name)


def therapist_id(session, first_name="Ana"):
    return next(
        t.id for t in funnel.offered_therapists(fresh(session)) if t.first_name == first_name
    )


def walk_to_details(client, widget, *, start=TEN, therapist="Ana"):
    """Service → provider → time, as plain form posts (no JavaScript)."""
    session, url = begin(client, widget)
    response = client.post(url, {"service": service_id(session), "tz": "Europe/Paris"})
    assert response.status_code == 303 and response["Location"] == step_url(session, "provider")
    response = client.post(response["Location"], {"provider": therapist_id(session, therapist)})
    assert response["Location"] == step_url(session, "time")
    response = client.post(response["Location"], {"start": start.isoformat()})
    assert response["Location"] == step_url(session, "details")
    return fresh(session)


def walk_to_review(client, widget, **kwargs):
    session = walk_to_details(client, widget, **kwargs)
    response = client.post(step_url(session, "details"), GUEST)
    assert response.status_code == 303 and response["Location"] == step_url(session, "review")
    return fresh(session)


def text(response):
    return response.content.decode()


def unescaped(response):
    return html.unescape(text(response))


def events(response):
    """The events a page hands to static/js/funnel.js for the host page: {name: detail}."""
    found = re.findall(r'data-chairfill-event="(\w+)" data-detail="([^"]*)"', text(response))
    return {name: json.loads(html.unescape(detail)) for name, detail in found}


# --- starting ------------------------------------------------------------------------------


def test_the_link_starts_a_session_and_sends_the_guest_to_the_first_step(client, widget):
    session, url = begin(
        client, widget, "?embed=1&cf_host=https://salon.example/book&utm_source=google"
    )
    assert url == step_url(session, "service")  # one center: no center step
    assert session.landing["embed"] and session.landing["params"] == {"utm_source": "google"}
    page = client.get(url)
    assert page.status_code == 200
    assert '<html lang="en" data-embed="inline">' in text(page)
    assert 'data-origin="https://salon.example"' in text(page)
    assert 'data-chairfill-event="widget_opened"' in text(page)
    assert "Women's Haircut & Style" in unescaped(page) and "$85" in text(page)
    assert "1 h" in text(page) and "1 h 30 min" in text(page)  # Root Touch-Up: 90 min


def test_with_two_centers_the_guest_chooses_one_first(client, widget, santa_monica):
    session, url = begin(client, widget)
    assert url == step_url(session, "center")
    page = client.get(url)
    assert "Santa Monica" in text(page) and "Los Angeles time" in text(page)
    response = client.post(url, {"center": santa_monica.code})
    assert response["Location"] == step_url(session, "service")
    assert fresh(session).center == santa_monica


def test_another_organizations_center_is_not_offered(client, widget, other_org):
    theirs = Center.objects.create(
        organization=other_org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa6",
        name="Theirs",
        timezone="Europe/London",
        api_key="k",
    )
    Center.objects.create(
        organization=widget.organization,
        zenoti_center_id=SANTA_MONICA_ID,
        name="Second",
        timezone="America/Los_Angeles",
        api_base_url=SANDBOX_URL,
        api_key=LUMEN_KEY,
    )
    session, url = begin(client, widget)
    assert "Theirs" not in text(client.get(url))
    response = client.post(url, {"center": theirs.code})
    assert response.status_code == 400 and "Please choose a location." in text(response)
    assert fresh(session).center is None


def test_an_unknown_widget_or_another_organizations_slug_is_a_404(client, widget, other_org):
    assert client.get("/b/lumen/nosuchwidget/").status_code == 404
    assert client.get(f"/b/{other_org.slug}/{widget.code}/").status_code == 404
    assert not BookingSession.objects.exists()


def test_a_disabled_widget_says_booking_is_unavailable(client, widget):
    session, url = begin(client, widget)
    widget.enabled = False
    widget.save()
    for path in (start_url(widget), url):
        page = client.get(path)
        assert page.status_code == 404
        assert "Booking isn't available here right now" in unescaped(page)
    assert BookingSession.objects.count() == 1


def test_a_suspended_organization_says_booking_is_unavailable(client, widget):
    widget.organization.is_active = False
    widget.organization.save()
    page = client.get(start_url(widget))
    assert page.status_code == 404 and "switched off" in text(page)


# --- tenancy and headers -------------------------------------------------------------------


def test_a_session_is_found_only_under_its_own_organization_and_widget(client, widget, other_org):
    session, url = begin(client, widget)
    theirs = Widget.objects.create(organization=other_org, name="Theirs")
    code = session.code
    for path in (
        f"/b/{other_org.slug}/{widget.code}/{code}/service/",
        f"/b/{other_org.slug}/{theirs.code}/{code}/service/",
        f"/b/lumen/{theirs.code}/{code}/service/",
        f"/b/lumen/{widget.code}/{'x' * 22}/service/",
        f"/b/lumen/{widget.code}/{code}/calendar.ics",
    ):
        assert client.get(path).status_code == 404, path
        assert client.post(path, {"service": "x"}).status_code in (404, 405), path


def test_funnel_pages_may_be_framed_by_the_widgets_sites_only(client, widget):
    session, url = begin(client, widget)
    page = client.get(url)
    csp = page["Content-Security-Policy"]
    assert "frame-ancestors https://salon.example https://www.salon.example" in csp
    assert "X-Frame-Options" not in page
    assert page["Cache-Control"] == "no-store"
    widget.allowed_origins = []
    widget.save()
    assert "frame-ancestors 'none'" in client.get(url)["Content-Security-Policy"]


def test_no_funnel_response_sets_a_cookie(client, widget):
    """Third-party cookies may be blocked in the iframe: the funnel must never need one."""
    responses = []

    def record(response):
        responses.append(response)
        return response

    session, url = begin(client, widget)
    responses.append(client.get(start_url(widget)))
    record(client.get(url))
    record(client.get(url, **HTMX))
    session = walk_to_review(client, widget)
    for step in ("details", "review"):
        record(client.get(step_url(session, step)))
    record(client.post(step_url(session, "review")))
    record(client.get(step_url(session, "done")))
    record(client.get(f"{step_url(session, 'done')[:-5]}calendar.ics"))
    for response in responses:
        assert not response.cookies, response
        assert "Set-Cookie" not in response
        assert "csrfmiddlewaretoken" not in text(response) and "X-CSRFToken" not in text(response)


# --- the steps, with and without htmx ------------------------------------------------------


def test_the_plain_form_path_books_end_to_end(client, widget):
    session = walk_to_review(client, widget)
    assert session.state == S.HELD
    assert session.phone == "+12125550199"  # typed the national way, stored as E.164
    assert session.guest_timezone == "Europe/Paris"
    review = client.get(step_url(session, "review"))
    assert review.status_code == 200
    assert "Ana Ruiz" in text(review) and "(212) 555-0199" in text(review)
    assert "data-countdown-until=" in text(review) and "Book now" in text(review)
    response = client.post(step_url(session, "review"))
    assert response.status_code == 303 and response["Location"] == step_url(session, "done")
    done = client.get(response["Location"])
    session = fresh(session)
    assert session.state == S.CONFIRMED
    body = unescaped(done)
    assert "You're booked" in body and HAIRCUT in body and "10:00 am" in body
    assert "New York time" in body and "Parking is on Greene St." in body
    assert session.appointment_id[:8].upper() in body
    assert "calendar.ics" in body
    # Every step of a confirmed booking now shows the confirmation.
    for step in ("service", "provider", "time", "details", "review", "pay"):
        assert client.get(step_url(session, step))["Location"] == step_url(session, "done")
    assert client.get(step_url(session, "")[:-1])["Location"] == step_url(session, "done")


def test_an_htmx_choice_answers_the_next_steps_partial_and_pushes_its_url(client, widget):
    session, url = begin(client, widget)
    response = client.post(url, {"service": service_id(session)}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == step_url(session, "provider")
    body = unescaped(response)
    assert body.startswith("<title>Who would you like to see?")
    assert "<html" not in body and 'id="step"' in body and "autofocus" in body
    assert events(response) == {
        "service_selected": {"service": HAIRCUT, "center": "SoHo", "price": 85.0, "currency": "USD"}
    }
    assert "Anyone available" in body and "Ana Ruiz" in body
    assert "Vary" in response and "HX-Request" in response["Vary"]


def test_every_step_renders_as_a_page_and_as_a_partial(client, widget):
    session = walk_to_review(client, widget)
    for step in ("service", "provider", "time", "details", "review"):
        page = client.get(step_url(session, step))
        partial = client.get(step_url(session, step), **HTMX)
        assert page.status_code == partial.status_code == 200, step
        assert "<!doctype html>" in text(page) and 'id="step"' in text(page)
        assert "<!doctype html>" not in text(partial) and 'id="step"' in text(partial)
    restore = client.get(step_url(session, "time"), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<!doctype html>" in text(restore)  # back button without a snapshot: the page


def test_going_back_shows_the_earlier_choices_preselected(client, widget):
    session = walk_to_details(client, widget)
    service = client.get(step_url(session, "service"))
    chosen = re.search(r'<button class="option is-selected"[^>]*value="([^"]+)"', text(service))
    assert chosen and chosen.group(1) == session.service_id
    provider = client.get(step_url(session, "provider"))
    assert re.search(r'is-selected"[^>]*value="' + session.therapist_id, text(provider))
    times = client.get(step_url(session, "time"))
    assert re.search(r'value="' + TEN.isoformat() + '" id="t-1000" checked', text(times))
    # Re-choosing the same service keeps the time.
    client.post(step_url(session, "service"), {"service": session.service_id})
    assert fresh(session).starts_at == session.starts_at


def test_a_step_not_reached_yet_sends_the_guest_to_the_current_one(client, widget):
    session, url = begin(client, widget)
    for step in ("provider", "time", "details", "review", "pay", "done"):
        response = client.get(step_url(session, step))
        assert response["Location"] == url, step
    partial = client.get(step_url(session, "review"), **HTMX)
    assert partial.status_code == 200 and partial["HX-Push-Url"] == url


def test_without_provider_choice_the_provider_step_is_skipped(client, widget):
    widget.allow_provider_choice = False
    widget.save()
    session, url = begin(client, widget)
    response = client.post(url, {"service": service_id(session)})
    assert response["Location"] == step_url(session, "time")
    assert client.get(step_url(session, "provider"))["Location"] == step_url(session, "time")


def test_the_time_step_lists_the_days_times_by_part_of_day_in_the_centers_zone(client, widget):
    session, url = begin(client, widget)
    client.post(url, {"service": service_id(session), "tz": "America/Los_Angeles"})
    client.post(step_url(session, "provider"), {"provider": "any"})
    page = client.get(step_url(session, "time"), {"day": booking_day().isoformat()})
    body = unescaped(page)
    assert "Times on Wednesday" in body and "Morning" in body and "Afternoon" in body
    assert 'type="radio" name="start"' in body and "10:00 am" in body
    assert "New York time" in body and "3 hours ahead of yours" in body
    assert "zone-differs" in body
    # Only the guest's browser zone changes the wording, never the times.
    same_zone = client.get(step_url(session, "time"), {"tz": "America/New_York"})
    assert "zone-differs" not in text(same_zone)
    assert "autofocus" not in text(same_zone)  # a page load starts at the top anyway
    # htmx: choosing a day reports it to the host page, and keeps the focus on the strip.
    partial = client.get(step_url(session, "time"), {"day": booking_day().isoformat()}, **HTMX)
    assert 'data-chairfill-event="date_selected"' in text(partial)
    assert "autofocus" not in text(partial)


def test_days_without_free_times_are_disabled_with_a_jump_to_the_next_one(client, widget):
    session = walk_to_details(client, widget)
    closed = booking_day() + timedelta(days=5)  # a Monday: SoHo is closed
    page = client.get(step_url(session, "time"), {"day": closed.isoformat()})
    body = unescaped(page)
    assert f'value="{closed.isoformat()}" id="day-{closed.isoformat()}"' in body
    assert re.search(rf'id="day-{closed.isoformat()}"[^>]*nothing free[^>]*disabled', body)
    assert "Nothing free on Monday" in body
    following = closed + timedelta(days=1)
    assert f"Next available: Tue {following.day} {following:%b}" in body


def test_a_time_that_is_not_free_is_refused_with_the_days_fresh_times(client, widget):
    session, url = begin(client, widget)
    client.post(url, {"service": service_id(session)})
    client.post(step_url(session, "provider"), {"provider": "any"})
    taken = datetime.combine(booking_day(), time(6, 0))  # before opening
    response = client.post(step_url(session, "time"), {"start": taken.isoformat()})
    assert response["Location"] == f"{step_url(session, 'time')}?day={booking_day()}"
    page = client.get(response["Location"])
    assert funnel.TAKEN in unescaped(page)
    assert 'role="alert"' in text(page) and "Times on Wednesday" in text(page)
    partial = client.post(step_url(session, "time"), {"start": taken.isoformat()}, **HTMX)
    assert partial["HX-Push-Url"] == response["Location"]
    assert funnel.TAKEN in unescaped(partial) and "Times on Wednesday" in text(partial)
    assert 'data-chairfill-event="booking_failed"' not in text(partial)
    assert fresh(session).starts_at is None
    missing = client.post(step_url(session, "time"), {"start": "soon"})
    assert missing.status_code == 400 and "Please choose a time." in text(missing)


def test_a_problem_is_shown_once(client, widget):
    session, url = begin(client, widget)
    BookingSession.objects.filter(pk=session.pk).update(problem=funnel.BUSY)
    first = client.get(url)
    assert funnel.BUSY in unescaped(first) and 'role="alert"' in text(first)
    assert funnel.BUSY not in unescaped(client.get(url))


# --- the details form ----------------------------------------------------------------------


def test_the_details_form_explains_each_mistake_next_to_the_field_and_keeps_the_input(
    client, widget
):
    session = walk_to_details(client, widget)
    page = client.post(
        step_url(session, "details"),
        {"first_name": " ", "last_name": "", "email": "nina@", "phone": "555-12", "notes": "Hi"},
    )
    assert page.status_code == 400
    body = unescaped(page)
    for message in (
        "Please enter your first name.",
        "Please enter your last name.",
        "Enter an email address like name@example.com.",
        "Enter a mobile number like (212) 555-0123",
    ):
        assert body.count(message) == 2, message  # in the summary and next to the field
    assert 'role="alert"' in body and "Please fix these 4 things" in body
    assert re.search(r'name="email" value="nina@"[^>]*aria-invalid="true"', body)
    assert re.search(r'aria-describedby="id_email_helptext id_email_error"', body)
    assert 'id="id_email_error"' in body
    assert 'value="555-12"' in body and ">\nHi</textarea>" in body
    assert fresh(session).state == S.BROWSING
    partial = client.post(step_url(session, "details"), {"first_name": "Nina"}, **HTMX)
    assert partial.status_code == 200 and "Please enter your last name." in text(partial)


def test_the_details_form_has_labels_autocomplete_and_consent_off_by_default(client, widget):
    session = walk_to_details(client, widget)
    body = text(client.get(step_url(session, "details")))
    for name, autocomplete in (
        ("first_name", "given-name"),
        ("last_name", "family-name"),
        ("email", "email"),
        ("phone", "tel"),
    ):
        assert f'<label for="id_{name}">' in body
        assert re.search(rf'name="{name}" autocomplete="{autocomplete}"[^>]*id="id_{name}"', body)
    # Unticked: consent is the guest's to give.
    assert '<input type="checkbox" name="marketing_consent" id="id_marketing_consent">' in body
    assert '<input type="hidden" name="tz"' in body


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("(212) 555-0199", "+12125550199"),
        ("212.555.0199", "+12125550199"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_phone_numbers_are_stored_as_e164(client, widget, typed, stored):
    session = walk_to_details(client, widget)
    client.post(step_url(session, "details"), {**GUEST, "phone": typed})
    assert fresh(session).phone == stored


def test_details_accepted_hold_the_time_and_tell_the_host_page(client, widget):
    session = walk_to_details(client, widget)
    response = client.post(step_url(session, "details"), GUEST, **HTMX)
    assert response["HX-Push-Url"] == step_url(session, "review")
    body = text(response)
    assert 'data-chairfill-event="booking_started"' in body
    assert events(response)["booking_started"] == {"service": HAIRCUT, "center": "SoHo"}
    assert fresh(session).state == S.HELD


def test_book_now_in_htmx_answers_the_confirmation_and_reports_the_booking(client, widget):
    session = walk_to_review(client, widget)
    response = client.post(step_url(session, "review"), **HTMX)
    assert response["HX-Push-Url"] == step_url(session, "done")
    assert events(response) == {
        "booking_submitted": {"service": HAIRCUT, "value": 85.0, "currency": "USD"},
        "booking_completed": {
            "service": HAIRCUT,
            "center": "SoHo",
            "value": 85.0,
            "currency": "USD",
        },
    }
    # A reload is no new booking for the host page's analytics.
    assert "booking_completed" not in text(client.get(step_url(session, "done")))


def test_the_book_button_is_disabled_while_its_request_is_in_flight(client, widget):
    session = walk_to_review(client, widget)
    body = text(client.get(step_url(session, "review")))
    assert re.search(r'hx-post="[^"]+/review/" hx-disabled-elt="find button\[type=submit\]"', body)


# --- payment -------------------------------------------------------------------------------


def test_a_center_taking_payment_sends_the_guest_to_the_hosted_page_and_back(
    client, widget, santa_monica
):
    session, url = begin(client, widget, "?embed=1&cf_host=https://salon.example/book")
    client.post(url, {"center": santa_monica.code})
    client.post(step_url(session, "service"), {"service": service_id(session)})
    client.post(step_url(session, "provider"), {"provider": therapist_id(session, "Ivy")})
    client.post(step_url(session, "time"), {"start": TEN.isoformat()})
    client.post(step_url(session, "details"), GUEST)
    review = client.get(step_url(session, "review"))
    assert "Continue to payment" in text(review) and "Paid online now" in text(review)
    response = client.post(step_url(session, "review"))
    assert response["Location"] == step_url(session, "pay")
    session = fresh(session)
    assert session.state == S.AWAITING_PAYMENT
    pay = client.get(step_url(session, "pay"))
    body = text(pay)
    assert f'href="{session.payment_url}" target="_top"' in body and "Pay $85 securely" in body
    assert 'target="_blank" rel="noopener noreferrer"' in body
    # The iframe asks now and then; nothing changes until the guest has paid.
    poll = client.get(step_url(session, "pay"), {"poll": "1"}, **HTMX)
    assert poll.status_code == 204
    # Earlier steps are closed while paying.
    assert client.get(step_url(session, "time"))["Location"] == step_url(session, "pay")

    # Back unpaid: the reason, and a button to try again.
    back = client.get(step_url(session, "paid"), {"status": "success"})
    assert back["Location"] == step_url(session, "pay")
    retry = client.get(back["Location"])
    assert funnel.NOT_PAID in unescaped(retry) and "Try the payment again" in text(retry)
    response = client.post(step_url(session, "pay"))
    assert response["Location"] == step_url(session, "pay")
    session = fresh(session)
    assert session.payment_url

    payment = sb.Payment.objects.get(token=session.payment_token)
    assert actions.complete_payment(payment, "4242")
    back = client.get(step_url(session, "paid"))
    assert back["Location"] == step_url(session, "done")
    done = client.get(back["Location"], HTTP_SEC_FETCH_DEST="document")
    body = unescaped(done)
    assert "You're booked" in body and "Paid" in body
    assert "data-embed" not in body  # the top window, after paying
    assert 'href="https://salon.example/book"' in body and "Back to Lumen Salon" in body


def test_the_iframe_poll_shows_the_confirmation_once_paid(client, widget, santa_monica):
    session, url = begin(client, widget)
    client.post(url, {"center": santa_monica.code})
    client.post(step_url(session, "service"), {"service": service_id(session)})
    client.post(step_url(session, "provider"), {"provider": "any"})
    client.post(step_url(session, "time"), {"start": TEN.isoformat()})
    client.post(step_url(session, "details"), GUEST)
    client.post(step_url(session, "review"))
    session = fresh(session)
    actions.complete_payment(sb.Payment.objects.get(token=session.payment_token), "4242")
    funnel.payment_returned(session)
    moved = client.get(step_url(session, "pay"), {"poll": "1"}, **HTMX)
    assert moved.status_code == 200 and moved["HX-Push-Url"] == step_url(session, "done")
    assert 'data-chairfill-event="booking_completed"' in text(moved)


# --- the end -------------------------------------------------------------------------------


def test_an_ended_session_offers_a_new_booking(client, widget):
    session, url = begin(client, widget, "?embed=1&cf_host=https://salon.example/")
    BookingSession.objects.filter(pk=session.pk).update(state=S.EXPIRED)
    for step in ("service", "time", "review"):
        assert client.get(step_url(session, step))["Location"] == step_url(session, "done")
    page = client.get(step_url(session, "done"))
    body = unescaped(page)
    assert "This booking timed out" in body and "Start a new booking" in body
    assert f'href="{start_url(widget)}?embed=inline&cf_host=https%3A%2F%2Fsalon.example%2F"' in body
    assert "calendar.ics" not in body


def test_the_calendar_file_is_a_valid_event_in_utc(client, widget):
    widget.organization.display_name = "Lumen, Hair; Spa"
    widget.organization.save()
    session = walk_to_review(client, widget)
    client.post(step_url(session, "review"))
    session = fresh(session)
    response = client.get(f"{step_url(session, 'done')[:-5]}calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    lines = body.split("\r\n")
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert all(len(line.encode()) <= 75 for line in lines)
    assert f"UID:{session.code}@chairfill" in lines
    start = session.starts_at.astimezone(timezone.UTC)
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in lines
    assert f"DTEND:{start + timedelta(minutes=60):%Y%m%dT%H%M%SZ}" in lines
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:Women's Haircut & Style at Lumen\\, Hair\\; Spa" in unfolded
    assert "LOCATION:SoHo" in unfolded and "DESCRIPTION:" in unfolded and "Ana Ruiz" in unfolded


def test_the_calendar_file_is_only_for_confirmed_bookings(client, widget):
    session = walk_to_review(client, widget)
    assert client.get(f"{step_url(session, 'done')[:-5]}calendar.ics").status_code == 404


# --- branding ------------------------------------------------------------------------------


def test_the_theme_stylesheet_carries_the_validated_branding(client, widget):
    widget.brand_color = "#fde047"  # light yellow: text on it must be dark, links darker
    widget.save()
    widget.organization.button_radius = 20
    widget.organization.save()
    session, url = begin(client, widget)
    theme_url = re.search(r'href="(/b/lumen/[^"]+/theme\.css\?v=\w+)"', text(client.get(url)))[1]
    css = client.get(theme_url)
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert "immutable" in css["Cache-Control"]
    body = text(css)
    assert "--brand:#fde047" in body and "--on-brand:#1b1e2b" in body and "--radius:20px" in body
    ink = re.search(r"--brand-ink:(#\w{6})", body)[1]
    assert ink != "#fde047"
    # A value that slipped past validation never reaches the stylesheet.
    # (Seven characters: the column's length, so PostgreSQL stores it as SQLite would.)
    Widget.objects.filter(pk=widget.pk).update(brand_color="red;}a{")
    assert "red;}" not in text(client.get(theme_url.split("?")[0]))
