"""Zenoti's rate limit in the sandbox: a token bucket per organization (60 per 60 s, bucket
60 by default, configurable), its headers on every answer, 429 with Retry-After."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sandbox import ratelimit
from sandbox.demo import load_demo
from sandbox.models import SandboxOrganization
from sandbox.testing import WILLOW_KEY, api_client, freeze_clock, set_faults

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, NOW)


@pytest.fixture
def api(db, clock):
    load_demo()
    return api_client()


def test_every_answer_carries_the_rate_limit_headers(api):
    for response in (api.get("/centers"), api.get("/centers/nope"), api.get("/no/such/path")):
        assert response.headers["Organization-RateLimit-Limit"] == "60;w=60;b=60"
        assert "RateLimit-Remaining" in response.headers
        assert "RateLimit-Reset" in response.headers
        assert "RateLimit-Limit" not in response.headers  # no API-level limit
        assert response.headers["Server-Timing"].startswith("app;dur=")


def test_remaining_counts_down_and_reset_is_seconds_until_full(api):
    first, second = api.get("/centers"), api.get("/centers")
    assert first.headers["RateLimit-Remaining"] == "59"
    assert first.headers["RateLimit-Reset"] == "1"
    assert second.headers["RateLimit-Remaining"] == "58"
    assert second.headers["RateLimit-Reset"] == "2"


def test_an_empty_bucket_answers_429_with_retry_after(api):
    for _ in range(60):
        assert api.get("/centers").status_code == 200
    response = api.get("/centers")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == "60"
    assert response.json() == {"error": {"code": 429, "message": "Too many requests"}}


def test_the_bucket_refills_over_time(api, clock):
    for _ in range(60):
        api.get("/centers")
    clock.advance(seconds=5)
    assert [api.get("/centers").status_code for _ in range(6)] == [200] * 5 + [429]
    clock.advance(seconds=600)
    assert api.get("/centers").headers["RateLimit-Remaining"] == "59"  # capped at the bucket


def test_the_limit_window_and_bucket_are_configurable(api, clock):
    set_faults("lumen", rate_limit=10, rate_window_seconds=60, rate_burst=3)
    statuses = [api.get("/centers") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[0].headers["Organization-RateLimit-Limit"] == "10;w=60;b=3"
    assert statuses[-1].headers["Retry-After"] == "6"  # one token every 6 seconds
    clock.advance(seconds=6)
    assert api.get("/centers").status_code == 200


def test_keys_of_one_organization_share_its_bucket(api):
    SandboxOrganization.objects.get(slug="lumen").api_keys.create(key="second-lumen-key")
    other = api_client("second-lumen-key")
    api.get("/centers")
    assert other.get("/centers").headers["RateLimit-Remaining"] == "58"


def test_organizations_have_separate_buckets(api):
    for _ in range(60):
        api.get("/centers")
    assert api.get("/centers").status_code == 429
    assert api_client(WILLOW_KEY).get("/centers").status_code == 200


def test_refused_keys_spend_no_tokens(api):
    api_client("wrong-key").get("/centers")
    assert api.get("/centers").headers["RateLimit-Remaining"] == "59"


def test_a_429_spends_no_token(api, clock):
    set_faults("lumen", rate_limit=60, rate_window_seconds=60, rate_burst=1)
    api.get("/centers")
    for _ in range(3):
        assert api.get("/centers").status_code == 429
    clock.advance(seconds=1)
    assert api.get("/centers").status_code == 200


def test_take_refills_fractionally_and_caps_at_the_bucket(db):
    org = SandboxOrganization(rate_limit=60, rate_window_seconds=60, rate_burst=60)
    assert ratelimit.take(org, NOW).remaining == 59
    org.bucket_tokens = 0.25
    decision = ratelimit.take(org, NOW + timedelta(milliseconds=500))
    assert not decision.allowed
    assert org.bucket_tokens == pytest.approx(0.75)
    assert decision.retry_after == 1
    assert ratelimit.take(org, NOW + timedelta(hours=1)).remaining == 59


def test_take_refused_by_the_fault_keeps_the_token(db):
    org = SandboxOrganization(rate_limit=60, rate_window_seconds=60, rate_burst=60)
    decision = ratelimit.take(org, NOW, refuse=True)
    assert not decision.allowed
    assert decision.remaining == 60
    assert decision.retry_after == 1
    assert decision.reset == 0
