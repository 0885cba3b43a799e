"""Slots come from therapist schedules, days off, opening hours, the slot interval, service
duration and recovery time, appointments and live holds; holds lapse after ten minutes and
two guests never hold or confirm overlapping time with one therapist."""

import threading
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from sandbox.models import (
    ApiKey,
    Appointment,
    Booking,
    Category,
    Center,
    DayOff,
    Guest,
    Invoice,
    OpeningHours,
    SandboxOrganization,
    Service,
    Shift,
    Therapist,
)
from sandbox.slots import Availability
from sandbox.testing import api_client, freeze_clock

NEW_YORK = ZoneInfo("America/New_York")
TUESDAY = date(2026, 12, 15)
NOW = datetime(2026, 12, 14, 12, 0, tzinfo=NEW_YORK)  # the Monday before


class Salon:
    """A tiny salon: open Tuesdays 09:00-12:00; Ana works 09:00-12:00, Ben 10:00-12:00; a
    60-minute cut with 15 minutes' recovery that both do; a nails service only Cleo does."""

    def __init__(self):
        self.org = SandboxOrganization.objects.create(slug="tiny", name="Tiny Salon")
        ApiKey.objects.create(organization=self.org, key="tiny-key")
        self.center = Center.objects.create(
            organization=self.org,
            code="T1",
            name="Tiny Downtown",
            display_name="Tiny Downtown",
            time_zone="America/New_York",
            time_zone_id=20,
        )
        OpeningHours.objects.create(center=self.center, weekday=1, opens=time(9), closes=time(12))
        category = Category.objects.create(organization=self.org, code="H", name="Hair")
        self.cut = self._service(category, "Cut", 60, 15)
        self.nails = self._service(category, "Nails", 30, 0)
        self.ana = self._therapist("Ana", time(9), time(12), self.cut)
        self.ben = self._therapist("Ben", time(10), time(12), self.cut)
        self.cleo = self._therapist("Cleo", time(9), time(12), self.nails)
        self.guests = [
            Guest.objects.create(
                organization=self.org,
                center=self.center,
                first_name=f"Guest{n}",
                last_name="Test",
                created_at=NOW,
            )
            for n in range(12)
        ]

    def _service(self, category, name, minutes, recovery):
        service = Service.objects.create(
            organization=self.org,
            category=category,
            code=name[:3],
            name=name,
            duration=minutes,
            recovery_time=recovery,
            price=Decimal("50.00"),
        )
        service.centers.add(self.center)
        return service

    def _therapist(self, name, starts, ends, service):
        therapist = Therapist.objects.create(
            center=self.center, code=name, first_name=name, last_name="Test", job_name="Stylist"
        )
        therapist.services.add(service)
        Shift.objects.create(therapist=therapist, weekday=1, starts=starts, ends=ends)
        return therapist

    def appointment(self, therapist, at, service=None, status=Appointment.Status.BOOKED):
        service = service or self.cut
        start = datetime.combine(TUESDAY, at, tzinfo=NEW_YORK)
        return Appointment.objects.create(
            organization=self.org,
            center=self.center,
            guest=self.guests[-1],
            service=service,
            therapist=therapist,
            start=start,
            end=start + timedelta(minutes=service.duration),
            blocked_until=start + timedelta(minutes=service.duration + service.recovery_time),
            price=service.price,
            status=status,
            created_at=NOW,
        )

    def draft(self, api, *, therapist=None, guest=0, service=None, day=TUESDAY):
        item = {"item": {"id": str((service or self.cut).id)}}
        if therapist:
            item["therapist"] = {"id": str(therapist.id)}
        entry = {"items": [item]}
        if guest is not None:
            entry["id"] = str(self.guests[guest].id)
        body = {"center_id": str(self.center.id), "date": day.isoformat(), "guests": [entry]}
        return api.post("/bookings", json=body).json()["id"]


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, NOW)


@pytest.fixture
def salon(db, clock):
    return Salon()


@pytest.fixture
def api(salon):
    return api_client("tiny-key")


def available(api, booking):
    slots = api.get(f"/bookings/{booking}/slots").json()["slots"]
    return [s["Time"][11:16] for s in slots if s["Available"]]


def reserve(api, booking, at, **extra):
    body = {"slot_time": f"{TUESDAY}T{at}:00", **extra}
    return api.post(f"/bookings/{booking}/slots/reserve", json=body)


ALL_CUT_TIMES = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]


def test_slots_follow_opening_hours_and_the_slot_interval(api, salon):
    slots = api.get(f"/bookings/{salon.draft(api)}/slots").json()["slots"]
    assert [s["Time"][11:16] for s in slots] == ALL_CUT_TIMES
    assert all(s["Available"] for s in slots)


def test_a_therapist_is_offered_only_within_their_shift(api, salon):
    booking = salon.draft(api, therapist=salon.ben)
    assert available(api, booking) == ["10:00", "10:15", "10:30", "10:45", "11:00"]


def test_a_day_off_makes_the_therapist_unavailable_and_points_to_the_next_day(api, salon):
    DayOff.objects.create(therapist=salon.ana, date=TUESDAY)
    booking = salon.draft(api, therapist=salon.ana)
    body = api.get(f"/bookings/{booking}/slots").json()
    assert not any(s["Available"] for s in body["slots"])
    assert body["next_available_day"] == "2026-12-22T00:00:00"


def test_a_closed_day_has_no_slots(api, salon):
    monday = TUESDAY - timedelta(days=1)
    body = api.get(f"/bookings/{salon.draft(api, day=monday)}/slots").json()
    assert body["slots"] == []
    assert body["next_available_day"] == "2026-12-15T00:00:00"


def test_appointments_block_their_time_and_recovery_on_both_sides(api, salon):
    salon.appointment(salon.ana, time(10))  # 10:00-11:00, blocked until 11:15
    booking = salon.draft(api, therapist=salon.ana)
    # 09:00 would run into 10:00 with its own recovery; after 11:15 the cut no longer fits.
    assert available(api, booking) == []
    # "Anyone" still finds Ben, who starts at 10:00.
    assert available(api, salon.draft(api)) == ["10:00", "10:15", "10:30", "10:45", "11:00"]


def test_a_cancelled_appointment_frees_its_time(api, salon):
    salon.appointment(salon.ana, time(10), status=Appointment.Status.CANCELLED)
    assert available(api, salon.draft(api, therapist=salon.ana)) == ALL_CUT_TIMES


def test_a_no_show_still_occupies_its_time(api, salon):
    salon.appointment(salon.ana, time(10), status=Appointment.Status.NO_SHOW)
    assert available(api, salon.draft(api, therapist=salon.ana)) == []


def test_times_already_past_are_not_available(api, salon, clock):
    clock.at = datetime(2026, 12, 15, 10, 5, tzinfo=NEW_YORK)
    assert available(api, salon.draft(api)) == ["10:15", "10:30", "10:45", "11:00"]


def test_slots_are_center_local_whatever_the_servers_zone(api, salon, clock):
    # 14:00 UTC is 09:00 in New York: the 09:00 slot has just started.
    clock.at = datetime(2026, 12, 15, 14, 0, tzinfo=ZoneInfo("UTC"))
    assert available(api, salon.draft(api))[0] == "09:15"


def test_a_live_hold_blocks_other_guests_but_not_its_own_booking(api, salon):
    mine = salon.draft(api, therapist=salon.ana, guest=0)
    assert reserve(api, mine, "09:00").json()["is_reserved"] is True
    other = salon.draft(api, therapist=salon.ana, guest=1)
    assert available(api, other) == ["10:15", "10:30", "10:45", "11:00"]
    assert "09:00" in available(api, mine)


def test_a_hold_lapses_after_ten_minutes(api, salon, clock):
    mine = salon.draft(api, therapist=salon.ana, guest=0)
    reserve(api, mine, "09:00")
    other = salon.draft(api, therapist=salon.ana, guest=1)
    clock.advance(minutes=9, seconds=59)
    assert "09:00" not in available(api, other)
    clock.advance(seconds=1)
    assert "09:00" in available(api, other)
    assert reserve(api, other, "09:00").json()["is_reserved"] is True


def test_anyone_drafts_get_any_free_qualified_therapist(api, salon):
    salon.appointment(salon.ana, time(10))
    booking = salon.draft(api)
    assert reserve(api, booking, "10:00").json()["is_reserved"] is True
    confirmed = api.post(f"/bookings/{booking}/slots/confirm", json={}).json()
    assert confirmed["invoice"]["items"][0]["therapist"]["full_name"] == "Ben Test"


def test_overlapping_holds_with_one_therapist_are_refused(api, salon):
    first = salon.draft(api, therapist=salon.ana, guest=0)
    assert reserve(api, first, "10:00").json()["is_reserved"] is True
    second = salon.draft(api, therapist=salon.ana, guest=1)
    response = reserve(api, second, "10:30")
    assert response.status_code == 400
    assert response.json() == {
        "is_reserved": False,
        "reservation_id": None,
        "expiry_time": None,
        "error": {
            "code": 4072,
            "message": "The selected slot is no longer available. Select another date/time.",
        },
    }


def test_an_anyone_hold_takes_the_last_free_therapist(api, salon):
    for guest in (0, 1):
        assert reserve(api, salon.draft(api, guest=guest), "10:00").json()["is_reserved"]
    third = salon.draft(api, guest=2)
    assert reserve(api, third, "10:00").json()["error"]["code"] == 4072


@pytest.mark.parametrize("at", ["10:07", "08:45", "11:15", "13:00"])
def test_reserving_a_time_that_is_not_a_slot_is_refused(api, salon, at):
    assert reserve(api, salon.draft(api), at).json()["error"]["code"] == 4072


def test_reserving_on_another_date_than_the_drafts_is_refused(api, salon):
    body = {"slot_time": "2026-12-22T10:00:00"}
    response = api.post(f"/bookings/{salon.draft(api)}/slots/reserve", json=body)
    assert response.json()["error"]["code"] == 502


def test_guestless_drafts_list_slots_but_cannot_reserve(api, salon):
    booking = salon.draft(api, guest=None)
    assert available(api, booking) == ALL_CUT_TIMES
    response = reserve(api, booking, "10:00")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": 503, "message": "Guest is missing."}


def test_reserving_again_moves_the_hold(api, salon):
    mine = salon.draft(api, therapist=salon.ana, guest=0)
    reserve(api, mine, "09:00")
    reserve(api, mine, "11:00")
    other = salon.draft(api, therapist=salon.ana, guest=1)
    assert available(api, other)[:1] == ["09:00"]
    assert "11:00" not in available(api, other)


def test_confirm_after_the_hold_lapsed_is_4072(api, salon, clock):
    booking = salon.draft(api)
    reserve(api, booking, "10:00")
    clock.advance(minutes=10)
    response = api.post(f"/bookings/{booking}/slots/confirm", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 4072
    assert response.json()["is_confirmed"] is False
    assert not Appointment.objects.exists()


def test_confirm_without_a_reservation_is_4072(api, salon):
    response = api.post(f"/bookings/{salon.draft(api)}/slots/confirm", json={})
    assert response.json()["error"]["code"] == 4072


def test_confirm_on_a_slot_taken_meanwhile_is_4072(api, salon):
    booking = salon.draft(api, therapist=salon.ana)
    reserve(api, booking, "10:00")
    salon.appointment(salon.ana, time(10, 30))  # e.g. the front desk double-booked her
    assert api.post(f"/bookings/{booking}/slots/confirm", json={}).json()["error"]["code"] == 4072


def test_confirming_twice_answers_the_same_confirmation(api, salon):
    booking = salon.draft(api)
    reserve(api, booking, "10:00")
    first = api.post(f"/bookings/{booking}/slots/confirm", json={"notes": "hi"}).json()
    again = api.post(f"/bookings/{booking}/slots/confirm", json={"notes": "hi"}).json()
    assert again == first
    assert Appointment.objects.filter(booking_id=booking).count() == 1


def test_a_confirmed_appointment_blocks_the_slot_for_others(api, salon):
    booking = salon.draft(api, therapist=salon.ana)
    reserve(api, booking, "09:00")
    api.post(f"/bookings/{booking}/slots/confirm", json={})
    other = salon.draft(api, therapist=salon.ana, guest=1)
    assert available(api, other) == ["10:15", "10:30", "10:45", "11:00"]


def test_reserve_with_create_invoice_makes_a_temporary_invoice(api, salon):
    booking = salon.draft(api)
    body = reserve(api, booking, "10:00", create_invoice=True).json()
    [entry] = body["invoices"]
    invoice = api.get(f"/invoices/{entry['invoice_id']}?expand=InvoiceItems").json()["invoice"]
    assert invoice["status"] == "Open"
    assert invoice["invoice_dues"]["balance"] == 50.0
    [item] = invoice["invoice_items"]
    assert item["appointment_id"] is None
    assert item["start_time"] == "2026-12-15T10:00:00"
    confirmed = api.post(f"/bookings/{booking}/slots/confirm", json={}).json()
    assert confirmed["invoice"]["invoice_id"] == entry["invoice_id"]
    assert confirmed["invoice"]["items"][0]["invoice_item_id"] == item["id"]


def test_the_temporary_invoice_is_voided_when_the_hold_lapses(api, salon, clock):
    booking = salon.draft(api)
    invoice_id = reserve(api, booking, "10:00", create_invoice=True).json()["invoices"][0][
        "invoice_id"
    ]
    clock.advance(minutes=10)
    invoice = api.get(f"/invoices/{invoice_id}").json()["invoice"]
    assert invoice["status"] == "Void"
    assert invoice["is_closed"] is True


def test_reserving_again_voids_the_previous_temporary_invoice(api, salon):
    booking = salon.draft(api)
    old = reserve(api, booking, "10:00", create_invoice=True).json()["invoices"][0]["invoice_id"]
    reserve(api, booking, "10:30", create_invoice=True)
    assert Invoice.objects.get(pk=old).status == Invoice.Status.VOID


def test_cancelling_a_temporary_invoice_releases_the_hold(api, salon):
    booking = salon.draft(api, therapist=salon.ana)
    invoice_id = reserve(api, booking, "09:00", create_invoice=True).json()["invoices"][0][
        "invoice_id"
    ]
    api.put(f"/invoices/{invoice_id}/cancel")
    other = salon.draft(api, therapist=salon.ana, guest=1)
    assert "09:00" in available(api, other)


def test_availability_unit_checks_a_therapist_at_a_time(salon):
    salon.appointment(salon.ben, time(11))
    availability = Availability(
        salon.center, salon.cut, [salon.ana, salon.ben], TUESDAY, TUESDAY, NOW
    )
    at_ten = datetime.combine(TUESDAY, time(10))
    assert availability.is_free(salon.ana, at_ten)
    assert not availability.is_free(salon.ben, at_ten)  # its recovery would hit 11:00
    assert availability.free_therapist(at_ten) == salon.ana
    assert availability.free_therapist(datetime.combine(TUESDAY, time(10, 5))) is None
    assert availability.has_slot(TUESDAY)
    assert not availability.has_slot(TUESDAY + timedelta(days=1))


# --- Races: PostgreSQL only (SQLite's test database lives in one connection's memory) --

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


def _race(calls):
    """Run the calls at the same moment, each on its own thread and database connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("anyone", [False, True], ids=["same-therapist", "anyone"])
def test_racing_reserves_never_double_book_a_therapist(clock, anyone):
    salon = Salon()
    api = api_client("tiny-key")
    bookings = [
        salon.draft(api, therapist=None if anyone else salon.ana, guest=n) for n in range(8)
    ]
    at = ["10:00", "10:15", "10:30", "10:45"]

    def reserver(booking, n):
        return lambda: reserve(api_client("tiny-key"), booking, at[n % 4]).json()

    results = _race([reserver(b, n) for n, b in enumerate(bookings)])
    won = [r for r in results if r["is_reserved"]]
    # Every 60-minute cut from 10:00-10:45 overlaps every other: one per therapist.
    assert len(won) == (2 if anyone else 1)
    assert all(r["error"]["code"] == 4072 for r in results if not r["is_reserved"])
    holds = Booking.objects.filter(hold_therapist__isnull=False)
    assert sorted(holds.values_list("hold_therapist__first_name", flat=True)) == (
        ["Ana", "Ben"] if anyone else ["Ana"]
    )


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_reserve_and_confirm_leave_no_overlapping_appointments(clock):
    salon = Salon()
    api = api_client("tiny-key")
    drafts = [salon.draft(api, therapist=salon.ana if n % 2 else None, guest=n) for n in range(10)]
    at = ["09:00", "09:30", "10:00", "10:30", "11:00"]

    def book(booking, n):
        def call():
            client = api_client("tiny-key")
            if reserve(client, booking, at[n % 5]).json()["is_reserved"]:
                return client.post(f"/bookings/{booking}/slots/confirm", json={}).json()
            return None

        return call

    results = _race([book(b, n) for n, b in enumerate(drafts)])
    assert any(results)
    for therapist in (salon.ana, salon.ben):
        booked = list(Appointment.objects.filter(therapist=therapist).order_by("start"))
        for earlier, later in zip(booked, booked[1:], strict=False):
            assert earlier.blocked_until <= later.start, therapist
