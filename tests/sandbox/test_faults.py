"""Fault knobs, per sandbox organization: latency, 5xx answers, hangs, forced 429s, slots
stolen before reserve, business errors as HTTP 200, and writes whose answer is lost."""

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox import clock as sandbox_clock
from sandbox import faults
from sandbox.demo import load_demo
from sandbox.models import Appointment, Guest, SandboxOrganization
from sandbox.testing import (
    LUMEN_KEY,
    SandboxTransport,
    api_client,
    freeze_clock,
    reset_faults,
    set_faults,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))
SOHO = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
WEBSITE = "5d0c3e5a-8a0f-4d57-9d1f-000000000001"
DAY = "2026-12-15"
AUTH = {"Authorization": f"apikey {LUMEN_KEY}"}


@pytest.fixture
def sleeps(monkeypatch):
    """Records the sandbox's sleeps instead of sleeping."""
    recorded = []
    monkeypatch.setattr(sandbox_clock, "sleep", recorded.append)
    return recorded


@pytest.fixture
def api(db, monkeypatch, sleeps):
    freeze_clock(monkeypatch, NOW)
    load_demo()
    return api_client()


def _guest_body(email="lost@example.com"):
    return {
        "center_id": SOHO,
        "personal_info": {"first_name": "Lou", "last_name": "Stone", "email": email},
        "referral": {"referral_source": {"id": WEBSITE}},
    }


def _draft(api, therapist=None):
    services = api.get(f"/centers/{SOHO}/services", params={"size": 100}).json()["services"]
    haircut = next(s for s in services if s["name"] == "Women's Haircut & Style")
    guest = api.post("/guests", json=_guest_body("draft@example.com")).json()["id"]
    item = {"item": {"id": haircut["id"]}}
    if therapist:
        item["therapist"] = {"id": therapist}
    body = {"center_id": SOHO, "date": DAY, "guests": [{"id": guest, "items": [item]}]}
    return api.post("/bookings", json=body).json()["id"]


def test_latency_is_added_to_every_answer(api, sleeps):
    set_faults("lumen", latency_ms=250)
    api.get("/centers")
    assert sleeps == [0.25]


def test_latency_past_the_read_timeout_is_a_timeout_at_once_after_the_work(api, sleeps):
    set_faults("lumen", latency_ms=3000)
    slow = httpx.Client(
        base_url=api.base_url,
        transport=SandboxTransport(),
        headers=AUTH,
        timeout=httpx.Timeout(5.0, read=2.0),
    )
    with pytest.raises(httpx.ReadTimeout):
        slow.post("/guests", json=_guest_body("slow@example.com"))
    assert sleeps == []
    assert Guest.objects.filter(email="slow@example.com").exists()  # a slow server still did it


def test_error_rate_gives_json_and_html_server_errors(api):
    set_faults("lumen", error_rate=1.0)
    seen = {}
    for _ in range(12):
        response = api.get("/centers")
        seen[response.status_code] = response.headers["content-type"]
        assert response.headers["Organization-RateLimit-Limit"] == "60;w=60;b=60"
    assert seen.keys() == {500, 502, 503}
    assert seen[500] == "application/json"
    assert seen[502].startswith("text/html")


def test_a_server_error_comes_before_any_write(api):
    set_faults("lumen", error_rate=1.0)
    api.post("/guests", json=_guest_body())
    assert not Guest.objects.filter(email="lost@example.com").exists()


def test_a_hang_is_an_immediate_read_timeout_in_process(api, sleeps):
    set_faults("lumen", hang_rate=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/centers")
    assert sleeps == []


def test_a_hang_really_waits_over_http(api, client, sleeps):
    set_faults("lumen", hang_rate=1.0, hang_seconds=12.5)
    response = client.get("/sandbox/zenoti/v1/centers", headers=AUTH)
    assert sleeps == [12.5]
    assert response.status_code == 504
    assert response[faults.FAULT_HEADER] == "hang"


def test_forced_429s_carry_retry_after_and_spend_no_token(api):
    set_faults("lumen", rate_limited_rate=1.0)
    response = api.get("/centers")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    set_faults("lumen", rate_limited_rate=0.0)
    assert api.get("/centers").headers["RateLimit-Remaining"] == "59"


def test_a_lost_response_commits_the_write_then_times_out(api, sleeps):
    set_faults("lumen", lose_response_rate=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/guests", json=_guest_body())
    assert sleeps == []
    found = api.get("/guests/search", params={"email": "lost@example.com"}).json()["guests"]
    assert len(found) == 1  # reads are answered: the caller can find what it wrote


def test_a_lost_response_really_waits_over_http(api, client, sleeps):
    set_faults("lumen", lose_response_rate=1.0, hang_seconds=20)
    response = client.post(
        "/sandbox/zenoti/v1/guests", _guest_body(), content_type="application/json", headers=AUTH
    )
    assert sleeps == [20]
    assert response[faults.FAULT_HEADER] == "lost-response"
    assert Guest.objects.filter(email="lost@example.com").exists()


def test_a_lost_confirm_is_visible_in_the_guests_appointments(api):
    booking = _draft(api)
    api.post(f"/bookings/{booking}/slots/reserve", json={"slot_time": f"{DAY}T10:00:00"})
    set_faults("lumen", lose_response_rate=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/bookings/{booking}/slots/confirm", json={})
    appointment = Appointment.objects.get(booking_id=booking)
    found = api.get(f"/guests/{appointment.guest_id}/appointments").json()["appointments"]
    assert [a["appointment_id"] for a in found] == [str(appointment.id)]


def test_a_stolen_slot_fails_the_reserve_and_is_really_gone(api):
    booking = _draft(api)
    slot = f"{DAY}T13:00:00"
    set_faults("lumen", steal_rate=1.0)
    response = api.post(f"/bookings/{booking}/slots/reserve", json={"slot_time": slot})
    assert response.status_code == 400
    assert response.json()["is_reserved"] is False
    assert response.json()["error"]["code"] == 4072
    reset_faults("lumen")
    slots = api.get(f"/bookings/{booking}/slots").json()["slots"]
    assert next(s for s in slots if s["Time"] == slot)["Available"] is False
    # "Anyone" at 13:00 could have been Ana or Ben: another guest took both.
    taken = Appointment.objects.filter(guest__first_name="Walk-in")
    assert sorted(a.therapist.first_name for a in taken) == ["Ana", "Ben"]


def test_business_errors_as_200_keep_the_error_body(api):
    booking = _draft(api)
    set_faults("lumen", business_errors_as_200=True)
    response = api.post(f"/bookings/{booking}/slots/confirm", json={})
    assert response.status_code == 200
    assert response.json()["error"]["code"] == 4072


def test_faults_are_reproducible_from_the_seed(api):
    def statuses(seed):
        set_faults("lumen", error_rate=0.5, fault_seed=seed)
        SandboxOrganization.objects.filter(slug="lumen").update(request_count=0)
        return [api.get("/centers").status_code for _ in range(20)]

    first = statuses(7)
    assert statuses(7) == first
    assert 200 in first and any(status >= 500 for status in first)
    assert statuses(8) != first


def test_set_faults_refuses_unknown_knobs_and_bad_values(api):
    with pytest.raises(TypeError):
        set_faults("lumen", eror_rate=1)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        set_faults("lumen", error_rate=1.5)


def test_reset_faults_restores_a_healthy_sandbox(api):
    set_faults("lumen", error_rate=1.0, rate_limit=5, business_errors_as_200=True)
    reset_faults("lumen")
    response = api.get("/centers")
    assert response.status_code == 200
    assert response.headers["Organization-RateLimit-Limit"] == "60;w=60;b=60"
