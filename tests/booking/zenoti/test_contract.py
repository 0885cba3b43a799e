"""Contract tests: the client against the sandbox, in-process (no sockets), for every endpoint
of the booking flow, every business error code, and both error styles (HTTP 400 with an
`error` body, and HTTP 200 with an `error` body)."""

from datetime import date, timedelta

import pytest

from booking.zenoti import errors, types

SOHO = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SANTA_MONICA = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02"
WILLOW_UPTOWN = "7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01"
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"
GOOGLE_ADS = "5d0c3e5a-8a0f-4d57-9d1f-000000000002"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["as 400", "as 200"])
def error_style(request, demo_sandbox):
    """Run the test with business errors as HTTP 400, then as HTTP 200 + error."""
    from sandbox.testing import set_faults

    set_faults("lumen", business_errors_as_200=request.param == "as 200")
    return 200 if request.param == "as 200" else 400


@pytest.fixture
def zenoti(sandbox_client):
    return sandbox_client()


def new_guest(email="ada@example.com", phone="+1 212 555 0199", center=SOHO, **extra):
    extra.setdefault("referral_source_id", WEBSITE)
    return types.NewGuest(
        center_id=center, first_name="Ada", last_name="Lovelace", email=email, phone=phone, **extra
    )


def bookable(zenoti, center=SOHO):
    return next(s for s in zenoti.list_services(center) if s.can_book)


def draft_with_slots(zenoti, center=SOHO, guest_id=None, service=None):
    """(booking id, available slots) for the first day in the next two weeks with room."""
    service = service or bookable(zenoti, center)
    for offset in range(2, 16):
        day = date.today() + timedelta(days=offset)
        booking_id = zenoti.create_booking(center, day, service.id, guest_id=guest_id)
        free = [slot for slot in zenoti.get_slots(booking_id).slots if slot.available]
        if free:
            return booking_id, free
    raise AssertionError("the demo salon has no free slot in two weeks")


def booked(zenoti, center=SOHO, email="ada@example.com"):
    guest = zenoti.find_or_create_guest(new_guest(email=email, center=center))
    service = bookable(zenoti, center)
    booking_id, free = draft_with_slots(zenoti, center, guest.id, service)
    zenoti.reserve_slot(booking_id, free[0].time)
    return guest, service, free[0].time, zenoti.confirm_booking(booking_id)


# --- centers and catalog -------------------------------------------------------------


def test_list_centers_returns_the_organizations_centers(zenoti, sandbox_client):
    centers = {c.id: c for c in zenoti.list_centers()}
    assert set(centers) == {SOHO, SANTA_MONICA}
    assert centers[SOHO].name == "Lumen SoHo"
    assert centers[SOHO].time_zone == "America/New_York"
    assert centers[SANTA_MONICA].time_zone == "America/Los_Angeles"
    from sandbox.testing import WILLOW_KEY

    [willow] = sandbox_client(WILLOW_KEY).list_centers()
    assert (willow.id, willow.name, willow.time_zone) == (
        WILLOW_UPTOWN,
        "Willow Uptown",
        "America/Chicago",
    )


def test_get_center(zenoti):
    center = zenoti.get_center(SOHO)
    assert (center.id, center.name) == (SOHO, "Lumen SoHo")
    assert center.time_zone_id is not None


def test_paths_are_case_insensitive_upstream(zenoti):
    # The client writes lower-case paths; the sandbox (like Zenoti) accepts any casing.
    assert zenoti.get_center(SOHO.upper()).id == SOHO


def test_services_cover_categories_durations_prices_and_online_booking(zenoti):
    services = zenoti.list_services(SOHO)
    assert len(services) >= 12
    assert len({s.category_id for s in services}) >= 3
    assert any(not s.can_book for s in services)
    balayage = next(s for s in services if s.name == "Balayage")
    assert (balayage.duration, balayage.recovery_time, balayage.category_name) == (120, 15, "Color")
    assert balayage.price and balayage.price > 0
    color = zenoti.list_services(SOHO, category_id=balayage.category_id)
    assert {s.category_name for s in color} == {"Color"}


def test_therapists_of_a_center_of_a_day_and_of_a_service(zenoti):
    everyone = zenoti.list_therapists(SOHO)
    assert len(everyone) + len(zenoti.list_therapists(SANTA_MONICA)) >= 6
    assert all(t.first_name and t.name for t in everyone)
    working = zenoti.list_therapists(SOHO, date=date.today() + timedelta(days=3))
    assert {t.id for t in working} <= {t.id for t in everyone}
    service = bookable(zenoti)
    for_service = zenoti.list_service_therapists(SOHO, service.id)
    assert for_service and {t.id for t in for_service} <= {t.id for t in everyone}


# --- guests --------------------------------------------------------------------------


def test_find_or_create_guest_creates_once_then_finds(zenoti):
    created = zenoti.find_or_create_guest(new_guest())
    assert (created.first_name, created.email, created.referral_source_id) == (
        "Ada",
        "ada@example.com",
        WEBSITE,
    )
    assert (created.phone_country_id, created.phone_number) == (225, "2125550199")
    again = zenoti.find_or_create_guest(
        new_guest(email="ADA@example.com", referral_source_id=GOOGLE_ADS)
    )
    assert again.id == created.id
    assert [g.id for g in zenoti.search_guests(SOHO, email="ada@example.com")] == [created.id]
    assert [g.id for g in zenoti.search_guests(SOHO, phone="+12125550199")] == [created.id]


def test_a_guest_without_the_required_referral_source_is_a_validation_error(zenoti, error_style):
    with pytest.raises(errors.ValidationError) as caught:
        zenoti.create_guest(new_guest(referral_source_id=None))
    assert (caught.value.status, caught.value.code) == (error_style, 503)
    assert "referral source" in caught.value.message


def test_an_unknown_referral_source_is_not_found(zenoti, error_style):
    with pytest.raises(errors.NotFoundError) as caught:
        zenoti.create_guest(new_guest(referral_source_id=UNKNOWN_ID))
    assert (caught.value.status, caught.value.code) == (error_style, 502)


# --- booking -------------------------------------------------------------------------


def test_the_whole_booking_flow(zenoti):
    guest = zenoti.find_or_create_guest(new_guest())
    service = bookable(zenoti)
    booking_id, free = draft_with_slots(zenoti, SOHO, guest.id, service)
    assert all(slot.time.minute % 15 == 0 for slot in free)  # a 15-minute grid
    reservation = zenoti.reserve_slot(booking_id, free[0].time)
    assert reservation.reservation_id and reservation.expiry_time
    confirmation = zenoti.confirm_booking(booking_id, notes="Booked online", group_name="Ada")
    [item] = confirmation.items
    assert (item.service_id, item.start_time) == (service.id, free[0].time)
    assert item.end_time == free[0].time + timedelta(minutes=service.duration)
    assert item.therapist_id and item.therapist_name

    appointment = zenoti.get_appointment(item.appointment_id)
    assert (appointment.invoice_id, appointment.service_id, appointment.status) == (
        confirmation.invoice_id,
        service.id,
        types.STATUS_BOOKED,
    )
    day = free[0].time.date()
    mine = zenoti.list_guest_appointments(guest.id, start_date=day, end_date=day)
    assert [a.appointment_id for a in mine] == [item.appointment_id]

    invoice = zenoti.get_invoice(confirmation.invoice_id)
    assert (invoice.id, invoice.is_closed, invoice.paid) == (confirmation.invoice_id, False, 0)
    assert invoice.total == invoice.balance > 0

    zenoti.cancel_invoice(confirmation.invoice_id, comments="Guest cancelled online")
    assert zenoti.get_appointment(item.appointment_id).is_cancelled


def test_slots_are_browsable_on_a_guestless_draft_but_reserve_needs_a_guest(zenoti, error_style):
    booking_id, free = draft_with_slots(zenoti)
    slots = zenoti.get_slots(booking_id)
    assert slots.future_days and all(d > free[0].time.date() for d in slots.future_days)
    with pytest.raises(errors.ValidationError) as caught:
        zenoti.reserve_slot(booking_id, free[0].time)
    assert (caught.value.status, caught.value.code) == (error_style, 503)


def test_a_taken_slot_cannot_be_reserved(zenoti, error_style):
    guest = zenoti.find_or_create_guest(new_guest())
    service = bookable(zenoti)
    booking_id, free = draft_with_slots(zenoti, SOHO, guest.id, service)
    taken = next((s for s in zenoti.get_slots(booking_id).slots if not s.available), None)
    assert taken is not None
    with pytest.raises(errors.SlotUnavailableError) as caught:
        zenoti.reserve_slot(booking_id, taken.time)
    assert (caught.value.status, caught.value.code) == (error_style, 4072)


def test_confirm_without_a_live_hold_is_slot_unavailable(zenoti, error_style):
    guest = zenoti.find_or_create_guest(new_guest())
    booking_id, _ = draft_with_slots(zenoti, SOHO, guest.id)
    with pytest.raises(errors.SlotUnavailableError) as caught:
        zenoti.confirm_booking(booking_id)
    assert (caught.value.status, caught.value.code) == (error_style, 4072)


def test_unknown_ids_are_not_found_for_every_kind(zenoti, error_style):
    calls = [
        lambda: zenoti.get_center(UNKNOWN_ID),
        lambda: zenoti.list_services(UNKNOWN_ID),
        lambda: zenoti.list_therapists(UNKNOWN_ID),
        lambda: zenoti.list_service_therapists(SOHO, UNKNOWN_ID),
        lambda: zenoti.create_booking(SOHO, date.today(), UNKNOWN_ID),
        lambda: zenoti.get_slots(UNKNOWN_ID),
        lambda: zenoti.get_invoice(UNKNOWN_ID),
        lambda: zenoti.cancel_invoice(UNKNOWN_ID),
        lambda: zenoti.get_appointment(UNKNOWN_ID),
        lambda: zenoti.list_guest_appointments(
            UNKNOWN_ID, start_date=date.today(), end_date=date.today()
        ),
        lambda: zenoti.get_center("not-a-guid"),
    ]
    for call in calls:
        with pytest.raises(errors.NotFoundError) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (error_style, 502)


def test_a_center_of_another_organization_is_not_found(zenoti, error_style):
    with pytest.raises(errors.NotFoundError):
        zenoti.get_center(WILLOW_UPTOWN)


# --- payments ------------------------------------------------------------------------


def test_pay_online_then_already_paid_and_closed_invoices(zenoti, error_style):
    from sandbox.actions import complete_payment
    from sandbox.models import Payment

    guest = zenoti.find_or_create_guest(new_guest(center=SANTA_MONICA))
    booking_id, free = draft_with_slots(zenoti, SANTA_MONICA, guest.id)
    reservation = zenoti.reserve_slot(booking_id, free[0].time, create_invoice=True)
    assert reservation.invoice_id

    link = zenoti.create_online_payment(
        reservation.invoice_id, center_id=SANTA_MONICA, redirect_uri="https://chairfill.test/back"
    )
    assert link.hosted_payment_uri.startswith("http") and link.token_id
    complete_payment(Payment.objects.get(token=link.token_id), "4242")
    paid = zenoti.get_invoice(reservation.invoice_id)
    assert paid.is_closed and paid.balance == 0 and paid.paid == paid.total

    with pytest.raises(errors.ValidationError) as caught:
        zenoti.create_online_payment(
            reservation.invoice_id,
            center_id=SANTA_MONICA,
            redirect_uri="https://chairfill.test/back",
        )
    assert (caught.value.status, caught.value.code) == (error_style, 460)
    assert "already paid" in caught.value.message


def test_a_cancelled_invoice_cannot_be_paid(zenoti, error_style):
    guest = zenoti.find_or_create_guest(new_guest(center=SANTA_MONICA))
    booking_id, free = draft_with_slots(zenoti, SANTA_MONICA, guest.id)
    zenoti.reserve_slot(booking_id, free[0].time)
    confirmation = zenoti.confirm_booking(booking_id)
    zenoti.cancel_invoice(confirmation.invoice_id)
    with pytest.raises(errors.ValidationError) as caught:
        zenoti.create_online_payment(
            confirmation.invoice_id,
            center_id=SANTA_MONICA,
            redirect_uri="https://chairfill.test/back",
        )
    assert (caught.value.status, caught.value.code) == (error_style, 728)


def test_a_center_without_online_payment_has_no_access(zenoti, error_style):
    _, _, _, confirmation = booked(zenoti, SOHO)
    with pytest.raises(errors.AuthError) as caught:
        zenoti.create_online_payment(
            confirmation.invoice_id, center_id=SOHO, redirect_uri="https://chairfill.test/back"
        )
    assert caught.value.code == 438


# --- auth, paging, rate-limit headers ------------------------------------------------


def test_a_bad_key_is_an_auth_error(sandbox_client):
    with pytest.raises(errors.AuthError) as caught:
        sandbox_client("not-a-real-key").list_centers()
    assert caught.value.status == 401


def test_a_page_size_above_100_is_refused(zenoti, error_style):
    with pytest.raises(errors.ValidationError) as caught:
        zenoti._request(
            "GET", "/centers", params={"size": 101}, call=zenoti._start(), read=lambda r, b: b
        )
    assert caught.value.code == 422


def test_every_answer_reports_the_rate_limit_remaining(zenoti, calls):
    zenoti.get_center(SOHO)
    zenoti.list_centers()
    assert [c.ratelimit_remaining for c in calls] == [59, 58]
    assert all(c.outcome == "ok" and c.status == 200 for c in calls)
