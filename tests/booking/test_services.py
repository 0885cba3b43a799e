"""booking.services: a client for a center with settings' timeouts, a budget shared by the
centers using one key, and a call log with one row per attempt and no secrets."""

import httpx
import pytest

from booking import services
from booking.models import ZenotiCall
from booking.zenoti import types
from tenants.models import Center

KEY = "zk_live_1234567890abcdefWXYZ"


class Upstream:
    """Answers from a script: a list of httpx.Response, one per request."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        return self.responses.pop(0)


def center_json():
    return {"center": {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": "Downtown"}}


def test_client_uses_the_centers_url_key_and_the_timeouts_from_settings(center, settings):
    settings.ZENOTI_CONNECT_TIMEOUT, settings.ZENOTI_READ_TIMEOUT = 1.5, 4.0
    settings.ZENOTI_DEADLINE = 7.0
    upstream = Upstream(httpx.Response(200, json={**center_json(), "error": None}))
    with services.client_for(center, transport=httpx.MockTransport(upstream)) as client:
        assert client.get_center(center.zenoti_center_id).name == "Downtown"
        assert (client.timeouts.connect, client.timeouts.read, client.deadline) == (1.5, 4.0, 7.0)
    request = upstream.requests[0]
    assert str(request.url).startswith("https://api.zenoti.com/v1/centers/3fa85f64")
    assert request.headers["Authorization"] == f"apikey {KEY}"


def test_every_attempt_is_logged_with_its_number(center):
    upstream = Upstream(
        httpx.Response(
            503, json={"error": {"code": 500, "message": "x"}}, headers={"Retry-After": "0"}
        ),
        httpx.Response(
            200, json={**center_json(), "error": None}, headers={"RateLimit-Remaining": "41"}
        ),
    )
    with services.client_for(center, transport=httpx.MockTransport(upstream)) as client:
        client.get_center(center.zenoti_center_id)
    rows = list(ZenotiCall.objects.order_by("attempt"))
    assert [(r.attempt, r.status, r.outcome) for r in rows] == [
        (1, 503, "http_error"),
        (2, 200, "ok"),
    ]
    assert rows[1].ratelimit_remaining == 41
    assert all(r.organization_id == center.organization_id and r.center == center for r in rows)
    assert rows[0].path_template == "/centers/{center_id}"
    assert rows[0].latency_ms >= 0


def test_the_log_holds_no_key_no_ids_and_no_guest_data(center):
    upstream = Upstream(httpx.Response(200, json={"guests": [], "error": None}))
    with services.client_for(center, transport=httpx.MockTransport(upstream)) as client:
        client.search_guests(center.zenoti_center_id, email="jane.doe@example.com")
    row = ZenotiCall.objects.get()
    stored = " ".join(str(getattr(row, f.attname)) for f in ZenotiCall._meta.concrete_fields)
    assert row.path_template == "/guests/search"
    for secret in (KEY, "jane", "example.com", center.zenoti_center_id):
        assert secret not in stored


def test_a_failing_call_log_never_breaks_the_call(center, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(ZenotiCall.objects, "create", broken)
    upstream = Upstream(httpx.Response(200, json={**center_json(), "error": None}))
    with services.client_for(center, transport=httpx.MockTransport(upstream)) as client:
        assert client.get_center(center.zenoti_center_id).name == "Downtown"
    assert "Could not write the Zenoti call log" in caplog.text


def test_a_failed_log_insert_leaves_the_callers_transaction_usable(center):
    log = services.call_logger(center)
    # An outcome too long for its column: PostgreSQL refuses the insert (SQLite doesn't care).
    record = types.CallRecord("GET", "/centers", 200, None, 1.0, 1, None, "x" * 40)
    log(record)
    assert Center.objects.filter(pk=center.pk).exists()  # the transaction still works


def test_centers_sharing_a_key_share_a_budget(org, center):
    twin = Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa7",
        name="Uptown",
        timezone="America/New_York",
        api_key=KEY,
    )
    other = Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa8",
        name="Midtown",
        timezone="America/New_York",
        api_key="zk_live_another_key_9999",
    )
    assert services.budget_for(center).key == services.budget_for(twin).key
    assert services.budget_for(center).key != services.budget_for(other).key
    assert KEY not in services.budget_for(center).key


@pytest.mark.parametrize("priority", ["interactive", "background"])
def test_priority_and_reserve_come_through(center, settings, priority):
    settings.ZENOTI_BACKGROUND_RESERVE = 7
    client = services.client_for(center, priority=priority)
    assert client.priority == priority
    assert client.budget.background_reserve == 7


def test_test_connection_gives_up_sooner_than_a_guest_page(center, monkeypatch, settings):
    settings.ZENOTI_DEADLINE = 20.0
    deadlines = []
    real_client_for = services.client_for

    def spy(center, **options):
        deadlines.append(options.get("deadline"))
        return real_client_for(center, **options)

    monkeypatch.setattr(services, "client_for", spy)
    refused = httpx.Response(401, json={"Message": "Authorization has been denied."})
    result = services.check_connection(center, transport=httpx.MockTransport(lambda r: refused))
    assert not result.ok and "refused the API key" in result.message
    assert deadlines == [services.TEST_CONNECTION_DEADLINE] and deadlines[0] < 20.0
