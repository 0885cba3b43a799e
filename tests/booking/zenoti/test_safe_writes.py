"""find_or_create_guest and confirm_booking_safely: after an ambiguous failure they look before
writing again, so no guest or booking is ever made twice."""

import json
from datetime import datetime

import httpx
import pytest

from booking.zenoti import errors, types

from .doubles import Recorder, respond

CENTER_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SERVICE_ID = "aa1d2c3b-0000-4000-8000-000000000001"
START = datetime(2026, 12, 1, 9, 15)


class FakeGuests:
    """A tiny Zenoti for guests: search and create; `lose` makes the next creates commit and
    then lose their answer (a read timeout), `fail` makes them fail before committing."""

    def __init__(self, lose=0, fail=0):
        self.guests = []
        self.lose = lose
        self.fail = fail
        self.searches = []

    def __call__(self, request):
        if request.method == "GET" and request.url.path.endswith("/guests/search"):
            params = request.url.params
            self.searches.append(dict(params))
            found = [
                g
                for g in self.guests
                if (
                    params.get("email")
                    and g["personal_info"]["email"].lower() == params["email"].lower()
                )
                or (
                    params.get("phone")
                    and g["personal_info"]["mobile_phone"]["number"] == params["phone"]
                )
            ]
            return respond(body={"guests": found, "page_info": {"total": len(found)}})
        if request.method == "POST" and request.url.path.endswith("/guests"):
            if self.fail:
                self.fail -= 1
                return respond(500, {"Message": "An error has occurred."})
            guest = {**json.loads(request.content), "id": f"g-{len(self.guests) + 1}"}
            self.guests.append(guest)
            if self.lose:
                self.lose -= 1
                raise httpx.ReadTimeout("timed out", request=request)
            return respond(body=guest)
        raise AssertionError(request.url)


def jane(**overrides):
    values = {
        "center_id": CENTER_ID,
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane@Example.com",
        "phone": "+1 555 123 4567",
        "referral_source_id": "ref-1",
    }
    values.update(overrides)
    return types.NewGuest(**values)


def test_an_existing_guest_is_found_not_created(make_client):
    zenoti = FakeGuests()
    zenoti.guests.append(
        {
            "id": "g-0",
            "personal_info": {"email": "jane@example.com", "mobile_phone": {"number": "0"}},
        }
    )
    guest = make_client(zenoti).find_or_create_guest(jane())
    assert guest.id == "g-0"
    assert len(zenoti.guests) == 1


def test_a_guest_found_by_phone_is_not_created_again(make_client):
    zenoti = FakeGuests()
    zenoti.guests.append(
        {"id": "g-0", "personal_info": {"email": "", "mobile_phone": {"number": "5551234567"}}}
    )
    assert make_client(zenoti).find_or_create_guest(jane()).id == "g-0"
    assert [s.get("email", s.get("phone")) for s in zenoti.searches] == [
        "jane@example.com",
        "5551234567",
    ]


def test_a_new_guest_is_created_with_zenotis_shapes(make_client):
    zenoti = FakeGuests()
    guest = make_client(zenoti).find_or_create_guest(jane())
    assert guest.id == "g-1"
    [created] = zenoti.guests
    assert created["center_id"] == CENTER_ID
    assert created["personal_info"] == {
        "first_name": "Jane",
        "last_name": "Doe",
        "gender": -1,
        "email": "Jane@Example.com",
        "mobile_phone": {"country_code": 225, "number": "5551234567"},
    }
    assert created["referral"] == {"referral_source": {"id": "ref-1"}}
    assert created["preferences"] == {
        "receive_marketing_email": False,
        "receive_marketing_sms": False,
    }


def test_a_non_us_phone_is_sent_as_full_digits_without_a_country_id(make_client):
    zenoti = FakeGuests()
    make_client(zenoti).find_or_create_guest(jane(email="", phone="+44 20 7946 0958"))
    assert zenoti.guests[0]["personal_info"]["mobile_phone"] == {
        "country_code": None,
        "number": "442079460958",
    }


def test_a_create_whose_answer_is_lost_is_found_by_the_next_search_not_duplicated(make_client):
    zenoti = FakeGuests(lose=1)
    guest = make_client(zenoti).find_or_create_guest(jane())
    assert guest.id == "g-1"
    assert len(zenoti.guests) == 1


def test_a_create_that_failed_before_committing_is_made_once_after_searching(make_client):
    zenoti = FakeGuests(fail=1)
    guest = make_client(zenoti).find_or_create_guest(jane())
    assert guest.id == "g-1"
    assert len(zenoti.guests) == 1
    assert len(zenoti.searches) == 4  # email + phone, twice


def test_when_every_round_fails_the_last_error_is_raised_and_nothing_is_duplicated(make_client):
    zenoti = FakeGuests(fail=10)
    with pytest.raises(errors.UpstreamUnavailableError):
        make_client(zenoti).find_or_create_guest(jane())
    assert zenoti.guests == []


def test_a_guest_without_email_or_phone_is_simply_created(make_client):
    zenoti = FakeGuests()
    make_client(zenoti).find_or_create_guest(jane(email="", phone=""))
    assert zenoti.searches == [] and len(zenoti.guests) == 1


def test_a_referral_error_is_not_retried(make_client):
    recorder = Recorder(
        respond(body={"guests": []}),
        respond(body={"guests": []}),
        respond(400, {"error": {"code": 503, "message": "Mandatory fields missing."}}),
    )
    with pytest.raises(errors.ValidationError, match="referral source"):
        make_client(recorder).find_or_create_guest(jane(referral_source_id=None))
    assert [r.method for r in recorder.requests] == ["GET", "GET", "POST"]


CONFIRMED = {
    "is_confirmed": True,
    "invoice": {
        "invoice_id": "inv-1",
        "items": [
            {
                "appointment_id": "a-1",
                "item": {"id": SERVICE_ID, "name": "Cut"},
                "start_time": "2026-12-01T09:15:00",
            }
        ],
    },
}


def appointments(*rows):
    return respond(body={"appointments": list(rows)})


def appointment(**overrides):
    row = {
        "appointment_id": "a-1",
        "invoice_id": "inv-1",
        "service": {"id": SERVICE_ID.upper(), "name": "Cut"},
        "therapist": {"id": "t-1", "full_name": "Ana Ruiz"},
        "start_time": "2026-12-01T09:15:00",
        "end_time": "2026-12-01T10:00:00",
        "status": 0,
    }
    row.update(overrides)
    return row


def confirm_safely(client):
    return client.confirm_booking_safely(
        "b-1", guest_id="g-1", service_id=SERVICE_ID, start_time=START
    )


def lost(request):
    raise httpx.ReadTimeout("timed out", request=request)


def test_a_confirm_that_answers_is_returned_without_checking(make_client):
    recorder = Recorder(respond(body=CONFIRMED))
    assert confirm_safely(make_client(recorder)).invoice_id == "inv-1"
    assert len(recorder.requests) == 1


def test_a_confirm_whose_answer_was_lost_is_found_in_the_guests_appointments(make_client):
    recorder = Recorder(
        lost, appointments(appointment(), appointment(appointment_id="a-x", invoice_id="other"))
    )
    confirmation = confirm_safely(make_client(recorder))
    assert confirmation == types.Confirmation(
        invoice_id="inv-1",
        items=[
            types.BookedItem(
                "a-1",
                SERVICE_ID.upper(),
                "Cut",
                "t-1",
                "Ana Ruiz",
                START,
                datetime(2026, 12, 1, 10),
            )
        ],
    )
    check = recorder.requests[1]
    assert check.url.path == "/v1/guests/g-1/appointments"
    assert (check.url.params["start_date"], check.url.params["end_date"]) == (
        "2026-12-01",
        "2026-12-01",
    )
    assert [r.method for r in recorder.requests] == ["POST", "GET"]  # confirmed once, never again


def test_a_confirm_that_did_not_go_through_is_tried_again_after_checking(make_client):
    cancelled = appointment(status=-1)
    other_time = appointment(start_time="2026-12-01T11:00:00")
    recorder = Recorder(
        respond(502, text="<html>Bad Gateway</html>"),
        appointments(cancelled, other_time),
        respond(body=CONFIRMED),
    )
    assert confirm_safely(make_client(recorder)).invoice_id == "inv-1"
    assert [r.method for r in recorder.requests] == ["POST", "GET", "POST"]


def test_a_4072_after_an_ambiguous_confirm_checks_whether_ours_took_the_slot(make_client):
    slot_gone = respond(400, {"error": {"code": 4072, "message": "Select date/time again"}})
    recorder = Recorder(lost, appointments(), slot_gone, appointments(appointment()))
    assert confirm_safely(make_client(recorder)).invoice_id == "inv-1"
    assert [r.method for r in recorder.requests] == ["POST", "GET", "POST", "GET"]


def test_a_plain_4072_is_slot_unavailable_without_checking(make_client):
    recorder = Recorder(
        respond(200, {"error": {"code": 4072, "message": "Select date/time again"}})
    )
    with pytest.raises(errors.SlotUnavailableError):
        confirm_safely(make_client(recorder))
    assert len(recorder.requests) == 1


def test_if_the_check_itself_fails_confirm_is_not_retried_blindly(make_client):
    recorder = Recorder(
        lost, respond(401, {"Message": "Authorization has been denied for this request."})
    )
    with pytest.raises(errors.AuthError):
        confirm_safely(make_client(recorder))
    assert [r.method for r in recorder.requests] == ["POST", "GET"]


def test_a_not_confirmed_answer_is_slot_unavailable(make_client):
    with pytest.raises(errors.SlotUnavailableError):
        make_client(Recorder(respond(body={"is_confirmed": False, "error": None}))).confirm_booking(
            "b-1"
        )


def test_a_phone_without_digits_is_neither_searched_nor_sent(make_client):
    zenoti = FakeGuests()
    make_client(zenoti).find_or_create_guest(jane(phone="call me"))
    assert [s.get("phone") for s in zenoti.searches] == [None]
    assert "mobile_phone" not in zenoti.guests[0]["personal_info"]


def test_search_guests_needs_an_email_or_a_phone(make_client):
    with pytest.raises(ValueError):
        make_client(FakeGuests()).search_guests(CENTER_ID, email=" ", phone="n/a")
