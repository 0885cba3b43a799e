"""Reading Zenoti's answers: its casing quirks and misspellings, unknown fields, paging, and
missing fields turned into UpstreamUnavailableError (never KeyError or TypeError)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from booking.zenoti import errors, types

from .doubles import Recorder, respond

CENTER_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SERVICE_ID = "aa1d2c3b-0000-4000-8000-000000000001"


def service_json(n, **overrides):
    data = {
        "id": f"aa1d2c3b-0000-4000-8000-{n:012d}",
        "code": f"S{n}",
        "name": f"Service {n}",
        "description": "Nice",
        "duration": 45,
        "recovery_time": 15,
        "is_couple_service": False,
        "price_info": {"currency_id": 148, "sale_price": 80.0, "final_price": 86.4, "tax": 6.4},
        "catalog_info": {
            "show_in_catalog": True,
            "can_book": True,
            "category_id": "cat-1",
            "category_name": "Hair",
        },
        "brand_new_field": {"whatever": [1, 2]},
    }
    data.update(overrides)
    return data


def test_services_are_typed_and_unknown_fields_ignored(make_client):
    client = make_client(
        Recorder(
            respond(body={"services": [service_json(1)], "page_info": {"total": 1}, "error": None})
        )
    )
    [service] = client.list_services(CENTER_ID)
    assert service == types.Service(
        id="aa1d2c3b-0000-4000-8000-000000000001",
        name="Service 1",
        code="S1",
        description="Nice",
        duration=45,
        recovery_time=15,
        price=Decimal("86.4"),
        currency_id=148,
        category_id="cat-1",
        category_name="Hair",
        can_book=True,
        show_in_catalog=True,
        is_couple_service=False,
    )


def test_service_duration_is_read_from_zenotis_misspelled_field(make_client):
    raw = service_json(1)
    del raw["duration"]
    raw["serviceduration_in_miutes"] = 90
    client = make_client(Recorder(respond(body={"services": [raw], "page_info": None})))
    assert client.list_services(CENTER_ID)[0].duration == 90


def test_lists_page_through_every_page_with_size_100(make_client):
    first = [service_json(n) for n in range(100)]
    second = [service_json(n) for n in range(100, 130)]
    recorder = Recorder(
        respond(body={"services": first, "page_info": {"total": 130, "page": 1, "size": 100}}),
        respond(body={"services": second, "page_Info": {"total": 130, "page": 2, "size": 100}}),
    )
    client = make_client(recorder)
    services = client.list_services(CENTER_ID, category_id="cat-1")
    assert len(services) == 130
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2"]
    assert {r.url.params["size"] for r in recorder.requests} == {"100"}
    assert recorder.requests[0].url.params["category_id"] == "cat-1"
    assert recorder.requests[0].url.path == f"/v1/centers/{CENTER_ID}/services"


def test_paging_stops_when_the_server_ignores_the_page_number(make_client):
    same = [service_json(n) for n in range(100)]
    recorder = Recorder(respond(body={"services": same}))  # no page_info, same rows forever
    client = make_client(recorder)
    assert len(client.list_services(CENTER_ID)) == 100
    assert len(recorder.requests) == 2


def test_centers_list_and_one_center(make_client):
    recorder = Recorder(
        respond(
            body={
                "centers": [
                    {
                        "id": CENTER_ID,
                        "code": "SOHO",
                        "name": "Lumen SoHo",
                        "display_name": "Lumen — SoHo",
                        "time_zone": "America/New_York",
                        "phone": "212",
                        "email": "soho@lumen.test",
                    }
                ],
                "page_info": {"total": 1, "page": 1, "size": 100},
            }
        ),
        respond(
            body={
                "center": {
                    "id": CENTER_ID,
                    "name": "Lumen SoHo",
                    "time_zone_id": 20,
                    "currency_id": 148,
                }
            }
        ),
    )
    client = make_client(recorder)
    [center] = client.list_centers()
    assert center.time_zone == "America/New_York"
    assert center.display_name == "Lumen — SoHo"
    one = client.get_center(CENTER_ID)
    assert (one.id, one.name, one.time_zone_id, one.currency_id) == (
        CENTER_ID,
        "Lumen SoHo",
        20,
        148,
    )


def test_center_name_is_read_from_zenotis_center_Name_spelling(make_client):
    client = make_client(
        Recorder(respond(body={"center": {"id": CENTER_ID, "center_Name": "Soho"}}))
    )
    assert client.get_center(CENTER_ID).name == "Soho"


def test_therapists_take_their_names_from_personal_info(make_client):
    body = {
        "therapists": [
            {
                "id": "t-1",
                "code": "ANA",
                "personal_info": {
                    "first_name": "Ana",
                    "last_name": "Ruiz",
                    "name": "Ana R.",
                    "nick_name": "Ana",
                    "gender": 0,
                },
                "job_info": {"id": "j", "name": "Stylist"},
            },
            {"id": "t-2", "personal_info": {"first_name": "Bo", "last_name": "Lee"}},
        ]
    }
    recorder = Recorder(respond(body=body))
    client = make_client(recorder)
    ana, bo = client.list_therapists(CENTER_ID, date=date(2026, 12, 1))
    assert (ana.name, ana.job_name, ana.gender) == ("Ana R.", "Stylist", 0)
    assert bo.name == "Bo Lee"
    assert recorder.requests[0].url.params["date"] == "2026-12-01"
    client.list_service_therapists(CENTER_ID, SERVICE_ID)
    assert recorder.requests[1].url.path.endswith(f"/services/{SERVICE_ID}/therapists")


def test_guest_search_reads_personal_info_and_phone(make_client):
    guest = {
        "id": "g-1",
        "center_id": CENTER_ID,
        "personal_info": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@example.com",
            "mobile_phone": {"country_code": 225, "number": "5551234567"},
            "gender": -1,
        },
        "referral": {"referral_source": {"id": "ref-1", "name": "Google"}},
    }
    recorder = Recorder(respond(body={"guests": [guest], "page_Info": {"total": 1}}))
    client = make_client(recorder)
    [found] = client.search_guests(CENTER_ID, email="jane@example.com", phone="+15551234567")
    assert found == types.Guest(
        id="g-1",
        center_id=CENTER_ID,
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone_country_id=225,
        phone_number="5551234567",
        gender=-1,
        referral_source_id="ref-1",
    )
    params = recorder.requests[0].url.params
    assert (params["center_id"], params["email"], params["phone"]) == (
        CENTER_ID,
        "jane@example.com",
        "5551234567",
    )


def test_a_draft_booking_id_is_read_from_id_or_booking_id(make_client):
    recorder = Recorder(
        respond(body={"id": "b-1", "error": None}), respond(body={"booking_id": "b-2"})
    )
    client = make_client(recorder)
    assert (
        client.create_booking(
            CENTER_ID, date(2026, 12, 1), SERVICE_ID, therapist_id="t-1", guest_id="g-1"
        )
        == "b-1"
    )
    assert client.create_booking(CENTER_ID, date(2026, 12, 1), SERVICE_ID) == "b-2"
    with_guest, without = recorder.bodies()
    assert with_guest == {
        "center_id": CENTER_ID,
        "date": "2026-12-01",
        "is_only_catalog_employees": True,
        "guests": [
            {"id": "g-1", "items": [{"item": {"id": SERVICE_ID}, "therapist": {"id": "t-1"}}]}
        ],
    }
    assert without["guests"] == [{"items": [{"item": {"id": SERVICE_ID}}]}]


def test_slots_are_read_from_pascal_case(make_client):
    body = {
        "slots": [
            {
                "Time": "2026-12-01T09:15:00",
                "Warnings": None,
                "Priority": 0,
                "Available": True,
                "SalePrice": None,
            },
            {"Time": "2026-12-01T09:30:00", "Available": False},
        ],
        "future_days": [
            {"Day": "2026-12-02T00:00:00", "IsAvailable": True, "HolidayType": None},
            {"Day": "2026-12-03T00:00:00", "IsAvailable": False},
        ],
        "next_available_day": "2026-12-02T00:00:00",
        "Error": None,
    }
    recorder = Recorder(respond(body=body))
    client = make_client(recorder)
    slots = client.get_slots("b-1")
    assert slots == types.Slots(
        slots=[
            types.Slot(datetime(2026, 12, 1, 9, 15), True),
            types.Slot(datetime(2026, 12, 1, 9, 30), False),
        ],
        future_days=[date(2026, 12, 2)],
        next_available_day=date(2026, 12, 2),
    )
    assert recorder.requests[0].url.params["check_future_day_availability"] == "true"


def test_a_non_null_pascal_case_Error_in_slots_is_an_error(make_client):
    client = make_client(
        Recorder(respond(body={"slots": [], "Error": {"code": 502, "message": "Invalid booking"}}))
    )
    with pytest.raises(errors.NotFoundError):
        client.get_slots("b-1")


def test_reserve_sends_the_slot_time_and_reads_the_hold(make_client):
    recorder = Recorder(
        respond(
            body={
                "is_reserved": True,
                "reservation_id": "r-1",
                "expiry_time": "2026-12-01T09:05:00",
                "blocking_time": 10,
                "invoices": [{"invoice_id": "inv-1"}],
                "error": None,
            }
        )
    )
    client = make_client(recorder)
    reservation = client.reserve_slot("b-1", datetime(2026, 12, 1, 9, 15), create_invoice=True)
    assert reservation == types.Reservation("r-1", datetime(2026, 12, 1, 9, 5), "inv-1")
    assert recorder.bodies() == [{"slot_time": "2026-12-01T09:15:00", "create_invoice": True}]


def test_reserve_not_reserved_is_slot_unavailable(make_client):
    client = make_client(Recorder(respond(body={"is_reserved": False, "error": None})))
    with pytest.raises(errors.SlotUnavailableError):
        client.reserve_slot("b-1", datetime(2026, 12, 1, 9, 15))


def test_confirm_reads_the_invoice_and_items_with_a_pascal_case_guest(make_client):
    body = {
        "is_confirmed": True,
        "invoice": {
            "invoice_id": "inv-1",
            "guest": {"Id": "g-1", "FirstName": "Jane", "LastName": "Doe"},
            "items": [
                {
                    "appointment_id": "a-1",
                    "invoice_item_id": "ii-1",
                    "item": {"id": SERVICE_ID, "name": "Balayage"},
                    "therapist": {"id": "t-1", "full_name": "Ana Ruiz"},
                    "start_time": "2026-12-01T09:15:00",
                    "end_time": "2026-12-01T11:15:00",
                }
            ],
        },
        "error": None,
    }
    recorder = Recorder(respond(body=body))
    client = make_client(recorder)
    confirmation = client.confirm_booking("b-1", notes="Booked online", group_name="Jane")
    assert confirmation == types.Confirmation(
        invoice_id="inv-1",
        items=[
            types.BookedItem(
                "a-1",
                SERVICE_ID,
                "Balayage",
                "t-1",
                "Ana Ruiz",
                datetime(2026, 12, 1, 9, 15),
                datetime(2026, 12, 1, 11, 15),
            )
        ],
    )
    assert recorder.bodies() == [{"notes": "Booked online", "group_name": "Jane"}]


def test_invoice_dues_and_payment_link(make_client):
    recorder = Recorder(
        respond(
            body={
                "invoice": {
                    "id": "inv-1",
                    "is_closed": False,
                    "invoice_dues": {"total": 120.5, "paid": 20, "balance": 100.5},
                    "total_price": {"currency": "USD"},
                    "guest": {"id": "g-1"},
                }
            }
        ),
        respond(
            body={"success": True, "hosted_payment_uri": "https://pay.test/x", "token_id": "tok-1"}
        ),
    )
    client = make_client(recorder)
    invoice = client.get_invoice("inv-1")
    assert invoice == types.Invoice(
        "inv-1", False, Decimal("120.5"), Decimal("20"), Decimal("100.5"), "USD"
    )
    assert recorder.requests[0].url.params.get_list("expand") == ["InvoiceItems", "Transactions"]
    link = client.create_online_payment(
        "inv-1", center_id=CENTER_ID, redirect_uri="https://chairfill.test/back"
    )
    assert link == types.PaymentLink("https://pay.test/x", "tok-1")
    assert recorder.bodies()[1] == {
        "center_id": CENTER_ID,
        "redirect_uri": "https://chairfill.test/back",
        "source": 1,
        "billing_info": None,
    }


def test_cancel_sends_comments_in_the_query(make_client):
    recorder = Recorder(respond(body={"success": True, "is_charge_applied": False}))
    client = make_client(recorder)
    assert client.cancel_invoice("inv-1", comments="Guest cancelled online") is None
    request = recorder.requests[0]
    assert (request.method, request.url.path) == ("PUT", "/v1/invoices/inv-1/cancel")
    assert request.url.params["comments"] == "Guest cancelled online"


def test_appointments_one_and_of_a_guest(make_client):
    appointment = {
        "appointment_id": "a-1",
        "appointment_group_id": "ag-1",
        "invoice_id": "inv-1",
        "service": {"id": SERVICE_ID, "name": "Balayage"},
        "therapist": {"id": "t-1", "full_name": "Ana Ruiz"},
        "start_time": "2026-12-01T09:15:00",
        "start_time_utc": "2026-12-01T14:15:00Z",
        "end_time": "2026-12-01T11:15:00",
        "status": 0,
    }
    recorder = Recorder(
        respond(body=appointment),
        respond(
            body={
                "appointments": [
                    appointment,
                    {**appointment, "appointment_id": "a-2", "status": "-1"},
                ]
            }
        ),
    )
    client = make_client(recorder)
    one = client.get_appointment("a-1")
    assert (one.appointment_id, one.service_name, one.therapist_name, one.status) == (
        "a-1",
        "Balayage",
        "Ana Ruiz",
        0,
    )
    both = client.list_guest_appointments(
        "g-1", start_date=date(2026, 12, 1), end_date=date(2026, 12, 2)
    )
    assert [a.is_cancelled for a in both] == [False, True]
    params = recorder.requests[1].url.params
    assert (params["start_date"], params["end_date"]) == ("2026-12-01", "2026-12-02")


def test_ids_in_paths_are_escaped(make_client):
    recorder = Recorder(respond(body={"center": {"id": "x", "name": "y"}}))
    make_client(recorder).get_center("../guests?x=1")
    assert recorder.requests[0].url.raw_path == b"/v1/centers/..%2Fguests%3Fx%3D1"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"services": [{"name": "No id"}]}, "id"),
        ({"services": [{"id": "s", "name": {"a": 1}}]}, "name"),
        ({"services": [{"id": "s", "name": "x", "duration": "long"}]}, "duration"),
        ({"services": [{"id": "s", "name": "x", "price_info": "cheap"}]}, "price_info"),
        (
            {"services": [{"id": "s", "name": "x", "price_info": {"final_price": "a lot"}}]},
            "final_price",
        ),
        ({"services": "none"}, "services"),
        ({"services": ["s-1"]}, "services"),
        ({"other": []}, "services"),
    ],
)
def test_missing_or_malformed_fields_are_upstream_errors_naming_the_field(make_client, body, field):
    client = make_client(Recorder(respond(body=body)))
    with pytest.raises(errors.UpstreamUnavailableError) as caught:
        client.list_services(CENTER_ID)
    assert f"'{field}'" in caught.value.message
    assert "GET /centers/{center_id}/services" in caught.value.message


@pytest.mark.parametrize(
    "call, body",
    [
        (lambda c: c.get_center(CENTER_ID), {"center": None}),
        (lambda c: c.get_center(CENTER_ID), {"center": []}),
        (lambda c: c.create_booking(CENTER_ID, date(2026, 12, 1), SERVICE_ID), {"error": None}),
        (lambda c: c.get_slots("b"), {"slots": [{"Available": True}]}),
        (lambda c: c.get_slots("b"), {"slots": [{"Time": "tomorrow at nine"}]}),
        (lambda c: c.reserve_slot("b", datetime(2026, 12, 1, 9)), {"is_reserved": True}),
        (lambda c: c.confirm_booking("b"), {"is_confirmed": True, "invoice": {"items": []}}),
        (lambda c: c.get_invoice("i"), {"invoice": {"id": "i"}}),
        (
            lambda c: c.create_online_payment("i", center_id="c", redirect_uri="u"),
            {"success": True},
        ),
        (lambda c: c.get_appointment("a"), {"status": 0}),
        (
            lambda c: c.list_guest_appointments(
                "g", start_date=date(2026, 1, 1), end_date=date(2026, 1, 1)
            ),
            {},
        ),
    ],
)
def test_every_call_reports_missing_fields_as_upstream_errors(make_client, call, body):
    client = make_client(Recorder(respond(body=body)))
    with pytest.raises(errors.UpstreamUnavailableError):
        call(client)


def test_a_successful_answer_that_is_a_json_list_is_an_upstream_error(make_client):
    client = make_client(Recorder(respond(text="[1, 2, 3]")))
    with pytest.raises(errors.UpstreamUnavailableError, match="isn't readable data"):
        client.get_center(CENTER_ID)
