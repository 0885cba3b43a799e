"""The sandbox's pages: the hosted payment page (success, decline, 3-D Secure; only success
changes the invoice) and the admin page (signed-in users, fault knobs, rate limit, cancel
and no-show buttons)."""

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from sandbox.demo import load_demo
from sandbox.models import Appointment, Invoice, Payment, SandboxOrganization
from sandbox.testing import api_client, freeze_clock

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))
SANTA_MONICA = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02"
RETURN = "https://book.example/b/lumen/return?session=abc"
CARD = {"expiry": "12 / 30", "cvc": "123"}


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, NOW)


@pytest.fixture
def api(db, clock):
    load_demo()
    return api_client()


def _reserve(api, *, create_invoice):
    """A Balayage at Santa Monica held for a new guest: (booking id, reserve answer)."""
    services = api.get(f"/centers/{SANTA_MONICA}/services", params={"size": 100}).json()
    balayage = next(s for s in services["services"] if s["name"] == "Balayage")
    guest = api.post(
        "/guests",
        json={
            "center_id": SANTA_MONICA,
            "personal_info": {"first_name": "Maya", "last_name": "Fern"},
            "referral": {"referral_source": {"id": "5d0c3e5a-8a0f-4d57-9d1f-000000000002"}},
        },
    ).json()["id"]
    body = {
        "center_id": SANTA_MONICA,
        "date": "2026-12-15",
        "guests": [{"id": guest, "items": [{"item": {"id": balayage["id"]}}]}],
    }
    booking = api.post("/bookings", json=body).json()["id"]
    reserved = api.post(
        f"/bookings/{booking}/slots/reserve",
        json={"slot_time": "2026-12-15T10:00:00", "create_invoice": create_invoice},
    ).json()
    return booking, reserved


def _invoice(api, *, create_invoice_only=False):
    """A confirmed Balayage at Santa Monica (or only reserved, with a temporary invoice)."""
    booking, reserved = _reserve(api, create_invoice=create_invoice_only)
    if create_invoice_only:
        return reserved["invoices"][0]["invoice_id"]
    return api.post(f"/bookings/{booking}/slots/confirm", json={}).json()["invoice"]["invoice_id"]


def _pay_link(api, invoice_id):
    body = api.post(
        f"/invoices/{invoice_id}/online_payments",
        json={"center_id": SANTA_MONICA, "redirect_uri": RETURN, "source": 1},
    ).json()
    return urlsplit(body["hosted_payment_uri"]).path


def _dues(api, invoice_id):
    invoice = api.get(f"/invoices/{invoice_id}").json()["invoice"]
    return invoice["invoice_dues"], invoice["is_closed"]


@pytest.fixture
def link(api):
    invoice_id = _invoice(api)
    return invoice_id, _pay_link(api, invoice_id)


# --- Hosted payment page -------------------------------------------------------------


def test_the_payment_page_shows_amount_center_and_test_cards(client, link):
    _, path = link
    response = client.get(path)
    assert response.status_code == 200
    page = response.text
    assert "Lumen Santa Monica" in page
    assert "$240.00" in page
    assert "Balayage" in page
    assert "4242 4242 4242 4242" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "style=" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self' https://book.example" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_good_card_pays_the_invoice_and_returns_with_status(client, api, link):
    invoice_id, path = link
    response = client.post(path, {"card_number": "4242 4242 4242 4242", **CARD})
    assert response.status_code == 302
    back = urlsplit(response.url)
    assert back.netloc == "book.example"
    assert parse_qs(back.query) == {"session": ["abc"], "status": ["success"]}
    assert _dues(api, invoice_id) == ({"total": 240.0, "paid": 240.0, "balance": 0.0}, True)
    transactions = api.get(f"/invoices/{invoice_id}?expand=Transactions").json()["invoice"]
    assert transactions["transactions"][0]["card_last4"] == "4242"


def test_a_declined_card_shows_a_message_and_allows_another_try(client, api, link):
    invoice_id, path = link
    response = client.post(path, {"card_number": "4000000000000002", **CARD})
    assert response.status_code == 200
    assert "Your card was declined" in response.text
    assert _dues(api, invoice_id) == ({"total": 240.0, "paid": 0.0, "balance": 240.0}, False)
    retry = client.post(path, {"card_number": "4242424242424242", **CARD})
    assert retry.status_code == 302
    assert _dues(api, invoice_id)[1] is True


def test_3d_secure_completed_pays(client, api, link):
    invoice_id, path = link
    response = client.post(path, {"card_number": "4000000000003220", **CARD})
    auth_path = reverse("sandbox-pay-authenticate", args=[path.split("/")[-2]])
    assert response.url == auth_path
    assert _dues(api, invoice_id)[1] is False
    page = client.get(auth_path)
    assert "Complete authentication" in page.text and "Fail authentication" in page.text
    assert client.get(path).url == auth_path  # the card page waits for the bank step
    done = client.post(auth_path, {"outcome": "complete"})
    assert parse_qs(urlsplit(done.url).query)["status"] == ["success"]
    assert _dues(api, invoice_id) == ({"total": 240.0, "paid": 240.0, "balance": 0.0}, True)


def test_3d_secure_failed_changes_nothing_and_allows_another_try(client, api, link):
    invoice_id, path = link
    client.post(path, {"card_number": "4000000000003220", **CARD})
    auth_path = reverse("sandbox-pay-authenticate", args=[path.split("/")[-2]])
    failed = client.post(auth_path, {"outcome": "fail"})
    assert failed.url == path + "?auth=failed"
    assert "could not confirm it's you" in client.get(failed.url).text
    assert _dues(api, invoice_id)[1] is False
    assert client.get(auth_path).url == path  # no bank step pending any more


@pytest.mark.parametrize(
    "form,message",
    [
        ({"card_number": "", **CARD}, "Enter your card number."),
        ({"card_number": "4242", **CARD}, "Your card number is incomplete."),
        ({"card_number": "4242424242424241", **CARD}, "Your card number is invalid."),
        ({"card_number": "5555555555554444", **CARD}, "only the test cards"),
        ({"card_number": "4242424242424242", "expiry": "13/30", "cvc": "1"}, "MM / YY"),
        ({"card_number": "4242424242424242", "expiry": "01/20", "cvc": "123"}, "expired"),
        ({"card_number": "4242424242424242", "expiry": "01/30", "cvc": "12a"}, "security code"),
    ],
)
def test_bad_card_details_are_explained_and_charge_nothing(client, api, link, form, message):
    invoice_id, path = link
    response = client.post(path, form)
    assert response.status_code == 200
    assert message in response.text
    assert _dues(api, invoice_id)[1] is False


def test_a_paid_invoice_shows_paid_and_refuses_another_payment_link(client, api, link):
    invoice_id, path = link
    client.post(path, {"card_number": "4242424242424242", **CARD})
    page = client.get(path)
    assert "Paid in full" in page.text
    again = api.post(
        f"/invoices/{invoice_id}/online_payments",
        json={"center_id": SANTA_MONICA, "redirect_uri": RETURN},
    ).json()
    assert again["error"]["code"] == 460


def test_the_query_string_status_is_not_the_truth(client, api, link):
    invoice_id, path = link
    client.post(path, {"card_number": "4000000000000002", **CARD})
    # A guest typing ?status=success on the return URL changes nothing upstream.
    assert _dues(api, invoice_id)[0]["balance"] == 240.0


def test_a_temporary_invoice_can_be_paid_before_confirm_until_its_hold_lapses(client, api, clock):
    invoice_id = _invoice(api, create_invoice_only=True)
    path = _pay_link(api, invoice_id)
    clock.advance(minutes=10)
    response = client.get(path)
    assert "no longer works" in response.text
    assert client.post(path, {"card_number": "4242424242424242", **CARD}).status_code == 200
    assert Invoice.objects.get(pk=invoice_id).status == Invoice.Status.VOID


def test_an_unknown_payment_token_is_404(client, db):
    assert client.get("/sandbox/pay/8b3f5a70-0000-4000-8000-000000000000/").status_code == 404


def test_payment_forms_need_a_csrf_token(api, link):
    from django.test import Client

    _, path = link
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path, {"card_number": "4242424242424242", **CARD}).status_code == 403
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()


# --- Admin page ----------------------------------------------------------------------


@pytest.fixture
def member(login, owner):
    return login(owner)


def test_the_admin_pages_need_a_signed_in_user(client, api):
    for name, args in [("sandbox-home", []), ("sandbox-org", ["lumen"])]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    response = client.post(reverse("sandbox-faults", args=["lumen"]), {"error_rate": "100"})
    assert response.status_code == 302
    assert SandboxOrganization.objects.get(slug="lumen").error_rate == 0


def test_the_home_page_lists_organizations_with_their_keys(member, api):
    page = member.get(reverse("sandbox-home")).text
    assert "Lumen Hair &amp; Spa" in page and "Willow Med Spa" in page
    assert "sandbox-lumen-key" in page and "sandbox-willow-key" in page
    assert "http://testserver/sandbox/zenoti/v1" in page
    assert "any signed-in user" in page


def test_the_organization_page_shows_keys_centers_referral_sources_and_bookings(member, api):
    _invoice(api)
    page = member.get(reverse("sandbox-org", args=["lumen"])).text
    assert "sandbox-lumen-key" in page
    assert SANTA_MONICA in page
    assert "5d0c3e5a-8a0f-4d57-9d1f-000000000004" in page and "Yelp" in page
    assert "Maya Fern" in page
    assert "Mon–Sat 09:00–19:00" in page


def test_an_unknown_sandbox_organization_is_404(member, api):
    assert member.get(reverse("sandbox-org", args=["nope"])).status_code == 404


def test_fault_knobs_are_saved_in_percent_from_htmx(member, api):
    form = {
        "latency_ms": "120",
        "error_rate": "25",
        "hang_rate": "5",
        "hang_seconds": "12",
        "rate_limited_rate": "0",
        "steal_rate": "50",
        "lose_response_rate": "10",
        "fault_seed": "42",
        "business_errors_as_200": "on",
    }
    response = member.post(reverse("sandbox-faults", args=["lumen"]), form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="faults"' in response.text and "Saved" in response.text
    assert "<html" not in response.text
    org = SandboxOrganization.objects.get(slug="lumen")
    assert (org.latency_ms, org.error_rate, org.steal_rate) == (120, 0.25, 0.5)
    assert org.business_errors_as_200 and not org.referral_required
    assert org.fault_seed == 42


@pytest.mark.parametrize(
    "field,value", [("error_rate", "150"), ("hang_rate", "-1"), ("latency_ms", "soon")]
)
def test_bad_fault_knobs_are_explained_and_not_saved(member, api, field, value):
    form = {
        "latency_ms": "0",
        "error_rate": "0",
        "hang_rate": "0",
        "hang_seconds": "15",
        "rate_limited_rate": "0",
        "steal_rate": "0",
        "lose_response_rate": "0",
        "fault_seed": "0",
        field: value,
    }
    response = member.post(reverse("sandbox-faults", args=["lumen"]), form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'class="error"' in response.text
    org = SandboxOrganization.objects.get(slug="lumen")
    assert (org.error_rate, org.hang_rate, org.latency_ms) == (0, 0, 0)


def test_fault_knobs_without_htmx_redirect_back(member, api):
    form = {
        "latency_ms": "0",
        "error_rate": "1",
        "hang_rate": "0",
        "hang_seconds": "15",
        "rate_limited_rate": "0",
        "steal_rate": "0",
        "lose_response_rate": "0",
        "fault_seed": "0",
        "referral_required": "on",
    }
    response = member.post(reverse("sandbox-faults", args=["lumen"]), form)
    assert response.status_code == 302
    assert SandboxOrganization.objects.get(slug="lumen").error_rate == 0.01


def test_rate_limit_settings_are_saved_and_refill_the_bucket(member, api):
    for _ in range(5):
        api.get("/centers")
    form = {"rate_limit": "120", "rate_window_seconds": "60", "rate_burst": "30"}
    response = member.post(
        reverse("sandbox-rate-limit", args=["lumen"]), form, HTTP_HX_REQUEST="true"
    )
    assert "30</strong> of 30 tokens" in response.text
    assert api.get("/centers").headers["Organization-RateLimit-Limit"] == "120;w=60;b=30"
    bad = member.post(
        reverse("sandbox-rate-limit", args=["lumen"]),
        {**form, "rate_burst": "0"},
        HTTP_HX_REQUEST="true",
    )
    assert 'class="error"' in bad.text
    assert SandboxOrganization.objects.get(slug="lumen").rate_burst == 30


@pytest.mark.parametrize(
    "action,status", [("cancel", Appointment.Status.CANCELLED), ("no-show", -2)]
)
def test_cancel_and_no_show_buttons_change_the_status_and_record_the_time(
    member, api, action, status
):
    appointment = Appointment.objects.filter(center_id=SANTA_MONICA).first()
    url = reverse("sandbox-appointment-status", args=["lumen", appointment.id])
    response = member.post(url, {"action": action}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.text.strip().startswith("<tr")
    appointment.refresh_from_db()
    assert appointment.status == status
    assert appointment.status_changed_at == NOW
    assert api.get(f"/appointments/{appointment.id}").json()["status"] == status


def test_a_cancelled_appointment_stays_cancelled(member, api):
    appointment = Appointment.objects.filter(center_id=SANTA_MONICA).first()
    url = reverse("sandbox-appointment-status", args=["lumen", appointment.id])
    member.post(url, {"action": "cancel"})
    member.post(url, {"action": "no-show"})
    member.post(url, {"action": "nonsense"})
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_status_buttons_only_reach_appointments_of_that_organization(member, api):
    appointment = Appointment.objects.filter(center_id=SANTA_MONICA).first()
    url = reverse("sandbox-appointment-status", args=["willow", appointment.id])
    assert member.post(url, {"action": "cancel"}).status_code == 404


def test_invoices_show_on_the_admin_page_with_their_balance(member, api):
    invoice_id = _invoice(api)
    invoice = Invoice.objects.get(pk=invoice_id)
    assert invoice.balance == Decimal("240.00")
    page = member.get(reverse("sandbox-org", args=["lumen"])).text
    assert f"<strong>{invoice.number}</strong>" in page


def test_paying_the_hold_invoice_before_confirm_keeps_the_payment(client, api):
    booking, reserved = _reserve(api, create_invoice=True)
    invoice_id = reserved["invoices"][0]["invoice_id"]
    client.post(_pay_link(api, invoice_id), {"card_number": "4242424242424242", **CARD})
    confirmed = api.post(f"/bookings/{booking}/slots/confirm", json={}).json()
    assert confirmed["invoice"]["invoice_id"] == invoice_id
    dues, is_closed = _dues(api, invoice_id)
    assert is_closed and Decimal(str(dues["balance"])) == 0


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://book.example/return;sandbox", "https://a.example, https://b.example", "ftp://x/y"],
)
def test_a_redirect_uri_that_could_bend_the_payment_page_csp_is_refused(api, redirect_uri):
    invoice_id = _invoice(api)
    response = api.post(
        f"/invoices/{invoice_id}/online_payments",
        json={"center_id": SANTA_MONICA, "redirect_uri": redirect_uri, "source": 1},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 502


def test_an_unknown_status_action_is_a_400(member, api):
    appointment = Appointment.objects.filter(center_id=SANTA_MONICA).first()
    url = reverse("sandbox-appointment-status", args=["lumen", appointment.id])
    assert member.post(url, {"action": "teleport"}).status_code == 400
