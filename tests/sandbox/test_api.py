"""The sandbox API answers like Zenoti: shapes (quirks included), paging, any-case paths,
authentication, error bodies, and never a 500 on garbage input."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sandbox.demo import load_demo
from sandbox.models import Guest, SandboxOrganization
from sandbox.testing import WILLOW_KEY, api_client, freeze_clock, set_faults

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday
SOHO = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SANTA_MONICA = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02"
UPTOWN = "7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01"
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"
DAY = "2026-12-15"  # a Tuesday without demo appointments


@pytest.fixture
def api(db, monkeypatch):
    freeze_clock(monkeypatch, NOW)
    load_demo()
    return api_client()


def _service(api, name, center=SOHO):
    services = api.get(f"/centers/{center}/services", params={"size": 100}).json()["services"]
    return next(s for s in services if s["name"] == name)


def _guest(api, center=SOHO, email="new.guest@example.com"):
    body = {
        "center_id": center,
        "personal_info": {
            "first_name": "Nia",
            "last_name": "Long",
            "email": email,
            "mobile_phone": {"country_code": 225, "number": "5551234567"},
            "gender": 0,
        },
        "referral": {"referral_source": {"id": WEBSITE}},
    }
    return api.post("/guests", json=body).json()


def _booking(api, service_id, guest_id=None, therapist_id=None, center=SOHO, day=DAY):
    item = {"item": {"id": service_id}}
    if therapist_id:
        item["therapist"] = {"id": therapist_id}
    guest = {"items": [item]}
    if guest_id:
        guest["id"] = guest_id
    body = {"center_id": center, "date": day, "is_only_catalog_employees": True, "guests": [guest]}
    return api.post("/bookings", json=body)


# --- Shapes --------------------------------------------------------------------------


def test_centers_list_has_the_documented_fields_and_page_info(api):
    body = api.get("/centers").json()
    assert body["error"] is None
    assert body["page_info"] == {"total": 2, "page": 1, "size": 10}
    soho = next(c for c in body["centers"] if c["id"] == SOHO)
    assert soho == {
        "id": SOHO,
        "code": "SOHO",
        "name": "Lumen SoHo",
        "display_name": "Lumen SoHo",
        "time_zone": "America/New_York",
        "phone": "+1 212 555 0143",
        "email": "soho@lumen.example",
    }


def test_one_center_has_zenoti_ids_for_zone_and_currency(api):
    center = api.get(f"/Centers/{SANTA_MONICA}").json()["center"]
    assert center["id"] == SANTA_MONICA
    assert center["time_zone_id"] == 4
    assert center["time_zone"] == "America/Los_Angeles"
    assert center["currency_id"] == 148
    assert {"name", "code", "phone", "email"} <= set(center)


def test_services_carry_price_and_catalog_info(api):
    balayage = _service(api, "Balayage")
    assert balayage["duration"] == 120
    assert balayage["recovery_time"] == 15
    assert balayage["is_couple_service"] is False
    assert balayage["price_info"] == {
        "currency_id": 148,
        "sale_price": 240.0,
        "tax_id": None,
        "include_tax": False,
        "tax": 0.0,
        "price_without_tax": 240.0,
        "final_price": 240.0,
    }
    assert balayage["catalog_info"]["can_book"] is True
    assert balayage["catalog_info"]["category_name"] == "Color"
    assert _service(api, "Color Correction")["catalog_info"]["can_book"] is False


def test_services_filter_by_category(api):
    balayage = _service(api, "Balayage")
    category = balayage["catalog_info"]["category_id"]
    body = api.get(f"/centers/{SOHO}/services", params={"category_id": category}).json()
    assert {s["catalog_info"]["category_name"] for s in body["services"]} == {"Color"}
    assert body["page_info"]["total"] == 4


def test_services_are_those_offered_at_the_center(api):
    soho = api.get(f"/centers/{SOHO}/services", params={"size": 100}).json()["services"]
    assert "Deep Tissue Massage" not in {s["name"] for s in soho}
    assert _service(api, "Deep Tissue Massage", center=SANTA_MONICA)


def test_therapists_of_a_service_and_of_a_center(api):
    manicure = _service(api, "Classic Manicure")
    body = api.get(f"/centers/{SOHO}/services/{manicure['id']}/therapists").json()
    assert [t["personal_info"]["name"] for t in body["therapists"]] == ["Chloe Nguyen"]
    chloe = body["therapists"][0]
    assert chloe["personal_info"] == {
        "first_name": "Chloe",
        "last_name": "Nguyen",
        "name": "Chloe Nguyen",
        "nick_name": "",
        "gender": 0,
    }
    assert chloe["job_info"]["name"] == "Nail Technician"
    everyone = api.get(f"/centers/{SOHO}/therapists").json()["therapists"]
    assert len(everyone) == 5


def test_therapists_of_a_date_are_those_working_that_day(api):
    # Monday: SoHo is closed and nobody works; Dec 2 is Dara's day off.
    monday = api.get(f"/centers/{SOHO}/therapists", params={"date": "2026-12-07"}).json()
    assert monday["therapists"] == []
    wednesday = api.get(f"/centers/{SOHO}/therapists", params={"date": "2026-12-02"}).json()
    names = {t["personal_info"]["name"] for t in wednesday["therapists"]}
    assert "Dara Okafor" not in names
    assert "Ana Ruiz" in names


def test_guest_create_answers_the_guest_with_an_id(api):
    guest = _guest(api)
    assert guest["error"] is None
    assert guest["id"]
    assert guest["center_id"] == SOHO
    assert guest["personal_info"]["mobile_phone"] == {"country_code": 225, "number": "5551234567"}
    assert guest["referral"] == {"referral_source": {"id": WEBSITE, "name": "Website"}}
    assert guest["preferences"] == {
        "receive_marketing_email": False,
        "receive_marketing_sms": False,
    }


def test_guest_create_without_referral_fails_when_the_organization_requires_one(api):
    body = {"center_id": SOHO, "personal_info": {"first_name": "Ann", "last_name": "Lee"}}
    response = api.post("/guests", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": 503, "message": "Mandatory fields missing."}}
    set_faults("lumen", referral_required=False)
    assert api.post("/guests", json=body).json()["error"] is None


def test_guest_create_with_an_unknown_referral_source_is_refused(api):
    body = {
        "center_id": SOHO,
        "personal_info": {"first_name": "Ann", "last_name": "Lee"},
        "referral": {"referral_source": {"id": "5d0c3e5a-8a0f-4d57-9d1f-0000000000ff"}},
    }
    assert api.post("/guests", json=body).json()["error"]["code"] == 502


def test_guest_search_by_email_ignores_case(api):
    created = _guest(api, email="Case.Test@Example.com")
    body = api.get("/guests/search", params={"center_id": SOHO, "email": "case.test@example.COM"})
    assert [g["id"] for g in body.json()["guests"]] == [created["id"]]
    assert body.json()["page_info"]["total"] == 1


def test_guest_search_by_phone_matches_with_or_without_country_prefix(api):
    created = _guest(api)
    for phone in ("5551234567", "+1 (555) 123-4567", "15551234567"):
        guests = api.get("/guests/search", params={"phone": phone}).json()["guests"]
        assert created["id"] in [g["id"] for g in guests], phone


def test_guest_search_without_email_or_phone_is_missing_input(api):
    assert api.get("/guests/search", params={"center_id": SOHO}).json()["error"]["code"] == 503


def test_draft_booking_answers_its_id_under_the_key_id(api):
    haircut = _service(api, "Women's Haircut & Style")
    body = _booking(api, haircut["id"], guest_id=_guest(api)["id"]).json()
    assert set(body) == {"id", "error"}
    assert body["error"] is None


def test_slots_are_pascal_case_naive_local_times_on_the_slot_interval(api):
    haircut = _service(api, "Women's Haircut & Style")
    booking = _booking(api, haircut["id"]).json()["id"]
    body = api.get(f"/bookings/{booking}/slots").json()
    first = body["slots"][0]
    assert first == {
        "Time": "2026-12-15T09:00:00",
        "Warnings": None,
        "Priority": 0,
        "Available": True,
        "SalePrice": None,
    }
    assert body["slots"][1]["Time"] == "2026-12-15T09:15:00"
    assert body["slots"][-1]["Time"] == "2026-12-15T19:00:00"  # 60 minutes before closing
    assert body["future_days"] == []
    assert body["next_available_day"] is None
    assert body["Error"] is None


def test_slots_list_future_days_when_asked(api):
    haircut = _service(api, "Women's Haircut & Style")
    booking = _booking(api, haircut["id"]).json()["id"]
    body = api.get(f"/bookings/{booking}/slots?check_future_day_availability=true").json()
    days = body["future_days"]
    assert len(days) == 14
    assert days[0] == {"Day": "2026-12-16T00:00:00", "IsAvailable": True, "HolidayType": None}
    monday = next(d for d in days if d["Day"] == "2026-12-21T00:00:00")
    assert monday["IsAvailable"] is False  # SoHo is closed on Mondays


def test_reserve_and_confirm_answer_the_documented_shapes(api):
    haircut = _service(api, "Women's Haircut & Style")
    guest = _guest(api)
    booking = _booking(api, haircut["id"], guest_id=guest["id"]).json()["id"]
    reserved = api.post(
        f"/bookings/{booking}/slots/reserve", json={"slot_time": "2026-12-15T10:00:00"}
    ).json()
    assert reserved["is_reserved"] is True
    assert reserved["reservation_id"]
    assert reserved["expiry_time"] == "2026-12-01T08:10:00"  # center-local, 10 minutes on
    assert reserved["invoices"] is None
    assert reserved["error"] is None
    confirmed = api.post(f"/bookings/{booking}/slots/confirm", json={"notes": "Window seat"}).json()
    assert confirmed["is_confirmed"] is True
    invoice = confirmed["invoice"]
    assert invoice["guest"] == {"Id": guest["id"], "FirstName": "Nia", "LastName": "Long"}
    [item] = invoice["items"]
    assert item["item"] == {"id": haircut["id"], "name": "Women's Haircut & Style"}
    assert item["therapist"]["full_name"] == "Ana Ruiz"
    assert item["start_time"] == "2026-12-15T10:00:00"
    assert item["end_time"] == "2026-12-15T11:00:00"
    assert item["appointment_id"] and item["invoice_item_id"]


def _confirmed(api, service="Women's Haircut & Style", center=SOHO, time="10:00"):
    service_id = _service(api, service, center=center)["id"]
    guest = _guest(api, center=center)
    booking = _booking(api, service_id, guest_id=guest["id"], center=center).json()["id"]
    slot = f"{DAY}T{time}:00"
    assert api.post(f"/bookings/{booking}/slots/reserve", json={"slot_time": slot}).json()[
        "is_reserved"
    ]
    return guest, api.post(f"/bookings/{booking}/slots/confirm", json={}).json()["invoice"]


def test_invoice_shows_dues_and_expands_items_and_transactions(api):
    _, confirmed = _confirmed(api)
    plain = api.get(f"/invoices/{confirmed['invoice_id']}").json()["invoice"]
    assert plain["invoice_dues"] == {"total": 85.0, "paid": 0.0, "balance": 85.0}
    assert plain["is_closed"] is False
    assert plain["guest"]["first_name"] == "Nia"
    assert "invoice_items" not in plain
    expanded = api.get(
        f"/invoices/{confirmed['invoice_id']}?expand=InvoiceItems&expand=Transactions"
    ).json()["invoice"]
    assert expanded["invoice_items"][0]["appointment_id"] == confirmed["items"][0]["appointment_id"]
    assert expanded["transactions"] == []


def test_appointment_carries_zenoti_misspellings_and_utc_times(api):
    _, confirmed = _confirmed(api)
    appointment_id = confirmed["items"][0]["appointment_id"]
    body = api.get(f"/appointments/{appointment_id}").json()
    assert body["appointment_id"] == appointment_id
    assert body["invoice_id"] == confirmed["invoice_id"]
    assert body["start_time"] == "2026-12-15T10:00:00"
    assert body["start_time_utc"] == "2026-12-15T15:00:00"
    assert body["serviceduration_in_miutes"] == 60
    assert body["center_Name"] == "Lumen SoHo"
    assert body["status"] == 0
    assert body["service"]["name"] == "Women's Haircut & Style"


def test_guest_appointments_filter_by_dates(api):
    guest, confirmed = _confirmed(api)
    url = f"/guests/{guest['id']}/appointments"
    found = api.get(url, params={"start_date": DAY, "end_date": DAY}).json()["appointments"]
    assert [a["appointment_id"] for a in found] == [confirmed["items"][0]["appointment_id"]]
    assert {"invoice_id", "service", "therapist", "start_time", "end_time", "status"} <= set(
        found[0]
    )
    later = api.get(url, params={"start_date": "2026-12-16", "end_date": "2026-12-31"}).json()
    assert later["appointments"] == []


def test_cancel_answers_success_and_cancels_the_appointments(api):
    _, confirmed = _confirmed(api)
    response = api.put(f"/invoices/{confirmed['invoice_id']}/cancel?comments=Changed+plans")
    assert response.json() == {"success": True, "is_charge_applied": False, "error": None}
    appointment = api.get(f"/appointments/{confirmed['items'][0]['appointment_id']}").json()
    assert appointment["status"] == -1


def test_cancel_takes_comments_from_the_body_too(api):
    _, confirmed = _confirmed(api)
    response = api.put(f"/invoices/{confirmed['invoice_id']}/cancel", json={"comments": "Sick"})
    assert response.json()["success"] is True
    invoice = api.get(f"/invoices/{confirmed['invoice_id']}").json()["invoice"]
    assert invoice["status"] == "Cancelled"
    assert invoice["is_closed"] is True


def test_online_payment_link_points_at_the_hosted_page_on_the_callers_host(api):
    _, confirmed = _confirmed(api, center=SANTA_MONICA)
    body = api.post(
        f"/invoices/{confirmed['invoice_id']}/online_payments",
        json={
            "center_id": SANTA_MONICA,
            "redirect_uri": "https://book.example/return",
            "source": 1,
            "billing_info": None,
        },
    ).json()
    assert body["success"] is True
    assert body["error"] is None
    assert body["hosted_payment_uri"] == f"http://testserver/sandbox/pay/{body['token_id']}/"


def test_online_payment_at_a_center_without_online_payment_is_refused(api):
    _, confirmed = _confirmed(api)
    body = api.post(
        f"/invoices/{confirmed['invoice_id']}/online_payments",
        json={"center_id": SOHO, "redirect_uri": "https://book.example/return"},
    ).json()
    assert body["error"]["code"] == 438


def test_online_payment_on_a_closed_invoice_is_728(api):
    _, confirmed = _confirmed(api, center=SANTA_MONICA)
    api.put(f"/invoices/{confirmed['invoice_id']}/cancel")
    body = api.post(
        f"/invoices/{confirmed['invoice_id']}/online_payments",
        json={"center_id": SANTA_MONICA, "redirect_uri": "https://book.example/return"},
    ).json()
    assert body["error"]["code"] == 728


# --- Paging, casing, routing ---------------------------------------------------------


def test_paging_walks_through_every_service(api):
    first = api.get(f"/centers/{SOHO}/services", params={"page": 1, "size": 5}).json()
    third = api.get(f"/centers/{SOHO}/services", params={"page": 3, "size": 5}).json()
    assert first["page_info"] == {"total": 13, "page": 1, "size": 5}
    assert len(first["services"]) == 5
    assert len(third["services"]) == 3
    beyond = api.get(f"/centers/{SOHO}/services", params={"page": 9, "size": 5}).json()
    assert beyond["services"] == []
    far = api.get(f"/centers/{SOHO}/services", params={"page": 10**30}).json()
    assert far["services"] == [] and far["page_info"]["total"] == 13


@pytest.mark.parametrize("size", ["101", "1000"])
def test_page_size_above_100_is_error_422(api, size):
    response = api.get(f"/centers/{SOHO}/services", params={"size": size})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 422


@pytest.mark.parametrize("params", [{"size": "ten"}, {"page": "0"}, {"size": "-3"}])
def test_nonsense_paging_is_error_422(api, params):
    assert api.get("/centers", params=params).json()["error"]["code"] == 422


@pytest.mark.parametrize(
    "path", ["/CENTERS", "/Centers/" + SOHO.upper(), "/centers/" + SOHO + "/SERVICES", "/centers/"]
)
def test_paths_and_ids_match_in_any_casing(api, path):
    assert api.get(path).status_code == 200


def test_query_parameter_names_match_in_any_casing(api):
    assert api.get("/centers", params={"Size": "1"}).json()["page_info"]["size"] == 1


def test_unknown_path_is_404_and_wrong_method_is_405(api):
    assert api.get("/nothing/here").status_code == 404
    response = api.delete("/centers")
    assert response.status_code == 405
    assert "does not support http method 'DELETE'" in response.json()["Message"]


# --- Authentication and tenancy ------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "", "apikey ", "apikey wrong-key", "Bearer sandbox-lumen-key"]
)
def test_missing_or_bad_key_is_401_with_zenotis_body(api, header):
    headers = {"Authorization": header} if header is not None else {}
    api.headers.pop("Authorization")
    response = api.get("/centers", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"Message": "Authorization has been denied for this request."}


def test_the_auth_scheme_is_case_insensitive(api):
    assert api.get("/centers", headers={"Authorization": "APIKEY sandbox-lumen-key"}).is_success


def test_a_key_sees_only_its_organizations_centers(api):
    willow = api_client(WILLOW_KEY)
    centers = willow.get("/centers").json()["centers"]
    assert [c["id"] for c in centers] == [UPTOWN]
    response = willow.get(f"/centers/{SOHO}")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": 502, "message": "Invalid center id."}


def test_another_organizations_guest_and_invoice_are_not_found(api):
    guest, confirmed = _confirmed(api)
    willow = api_client(WILLOW_KEY)
    assert willow.get(f"/invoices/{confirmed['invoice_id']}").json()["error"]["code"] == 502
    assert willow.get(f"/guests/{guest['id']}/appointments").json()["error"]["code"] == 502
    assert (
        willow.get(f"/appointments/{confirmed['items'][0]['appointment_id']}").json()["error"][
            "code"
        ]
        == 502
    )


def test_many_keys_may_belong_to_one_organization(api):
    SandboxOrganization.objects.get(slug="lumen").api_keys.create(key="second-lumen-key")
    assert api_client("second-lumen-key").get(f"/centers/{SOHO}").is_success


# --- Errors and bad input ------------------------------------------------------------


def test_business_errors_come_as_http_200_when_the_switch_is_on(api):
    set_faults("lumen", business_errors_as_200=True)
    response = api.get("/centers/not-a-guid")
    assert response.status_code == 200
    assert response.json()["error"] == {"code": 502, "message": "Invalid center id."}


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b'{"center_id": ', b"null"],
)
def test_garbage_bodies_get_a_400_error_body_never_a_500(api, content):
    for path in ("/guests", "/bookings", "/bookings/" + SOHO + "/slots/reserve"):
        response = api.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] in (502, 503), path


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"center_id": SOHO, "date": DAY},
        {"center_id": SOHO, "date": DAY, "guests": "all"},
        {"center_id": SOHO, "date": DAY, "guests": [{"items": []}]},
        {"center_id": SOHO, "date": DAY, "guests": [{"items": [{"item": "x"}]}]},
        {"center_id": SOHO, "date": "next tuesday", "guests": [{"items": [{"item": {"id": 1}}]}]},
        {"center_id": 42, "date": DAY, "guests": [{"items": [{"item": {"id": SOHO}}]}]},
        {"center_id": SOHO, "date": DAY, "guests": [{"id": [], "items": [{"item": {"id": SOHO}}]}]},
    ],
)
def test_malformed_draft_bookings_are_refused_with_an_error_code(api, body):
    response = api.post("/bookings", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in (502, 503)


def test_a_service_not_bookable_online_cannot_be_drafted(api):
    correction = _service(api, "Color Correction")
    assert _booking(api, correction["id"]).json()["error"]["code"] == 502


def test_a_therapist_who_does_not_do_the_service_cannot_be_drafted(api):
    manicure = _service(api, "Classic Manicure")
    haircut = _service(api, "Women's Haircut & Style")
    ana = api.get(f"/centers/{SOHO}/services/{haircut['id']}/therapists").json()["therapists"][0]
    response = _booking(api, manicure["id"], therapist_id=ana["id"])
    assert response.json()["error"]["code"] == 502


@pytest.mark.parametrize(
    "info",
    [
        {"first_name": "A", "mobile_phone": {"number": {"x": 1}}},
        {"first_name": "A", "mobile_phone": {"number": "555", "country_code": "US"}},
        {"first_name": ["A"]},
        {"first_name": "A", "gender": "female"},
    ],
)
def test_odd_guest_fields_never_cause_a_500(api, info):
    set_faults("lumen", referral_required=False)
    body = {"center_id": SOHO, "personal_info": info}
    response = api.post("/guests", json=body)
    assert response.status_code in (200, 400)
    assert "error" in response.json()


def test_guest_without_a_first_name_is_missing_input(api):
    set_faults("lumen", referral_required=False)
    body = {"center_id": SOHO, "personal_info": {"last_name": "Only"}}
    assert api.post("/guests", json=body).json()["error"] == {
        "code": 503,
        "message": "Mandatory fields missing.",
    }
    assert not Guest.objects.filter(last_name="Only").exists()


def test_the_api_needs_no_csrf_token_and_no_session(api):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/sandbox/zenoti/v1/guests",
        {"center_id": SOHO, "personal_info": {"first_name": "Al"}},
        content_type="application/json",
        headers={"Authorization": "apikey sandbox-lumen-key"},
    )
    assert response.status_code == 400  # the referral source is missing: the API answered
    assert response.json()["error"]["code"] == 503
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2029-01-01"])
def test_a_draft_for_a_date_far_away_is_refused(api, day):
    response = _booking(api, _service(api, "Balayage")["id"], day=day)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 502


@pytest.mark.parametrize("country", [10**30, -1, 0])
def test_an_impossible_phone_country_is_refused(api, country):
    body = {
        "center_id": SOHO,
        "personal_info": {
            "first_name": "Nia",
            "mobile_phone": {"country_code": country, "number": "5551234567"},
        },
        "referral": {"referral_source": {"id": WEBSITE}},
    }
    response = api.post("/guests", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 502
