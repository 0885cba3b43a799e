"""Webhook pages of members: endpoints with their health, adding one (its secret shown once),
editing, turning on and off, rotating the secret with an overlap, the test event, the delivery
log with its filters, a delivery's attempts and replay, and who may do what."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from attribution import sender
from attribution.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants.models import AuditLog
from tests.attribution.receiver import Receiver, verify

HOOK_URL = "https://hooks.lumen.example/chairfill"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch, settings):
    """Every host name resolves to one public address; private networks are refused."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setattr(sender, "resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def endpoint(org):
    return WebhookEndpoint.objects.create(
        organization=org,
        url=HOOK_URL,
        description="CRM",
        event_types=["booking_completed"],
    )


def make_delivery(endpoint, *, type="booking_completed", state="pending", attempts=()):
    """A delivery of a new event, with attempts given as (status_code, excerpt, error)."""
    event = WebhookEvent.objects.create(
        organization=endpoint.organization, type=type, payload={"type": type, "guest": {}}
    )
    delivery = WebhookDelivery.objects.create(
        organization=endpoint.organization,
        event=event,
        endpoint=endpoint,
        state=state,
        attempts=len(attempts),
        last_status=attempts[-1][0] if attempts else None,
        next_attempt_at=timezone.now() + timedelta(minutes=5) if state == "pending" else None,
    )
    for number, (status, excerpt, error) in enumerate(attempts, start=1):
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=status,
            latency_ms=120.4,
            response_excerpt=excerpt,
            error=error,
        )
    return delivery


def urls(org, endpoint=None, delivery=None):
    slug = org.slug
    found = {
        "list": reverse("attribution-webhooks", args=[slug]),
        "add": reverse("attribution-webhook-add", args=[slug]),
        "log": reverse("attribution-webhook-deliveries", args=[slug]),
    }
    if endpoint:
        for name, route in [
            ("edit", "attribution-webhook-edit"),
            ("toggle", "attribution-webhook-toggle"),
            ("rotate", "attribution-webhook-rotate"),
            ("test", "attribution-webhook-test"),
        ]:
            found[name] = reverse(route, args=[slug, endpoint.code])
    if delivery:
        found["delivery"] = reverse("attribution-webhook-delivery", args=[slug, delivery.code])
        found["replay"] = reverse("attribution-webhook-replay", args=[slug, delivery.code])
    return found


def form_data(**overrides):
    data = {
        "url": HOOK_URL,
        "description": "Zapier",
        "event_types": ["booking_started", "booking_completed"],
        "enabled": "on",
    }
    data.update(overrides)
    return data


def raw_secrets(endpoint):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, previous_secret FROM attribution_webhookendpoint WHERE id = %s",
            [endpoint.pk],
        )
        return cursor.fetchone()


# --- Who may do what ---

ALL_PAGES = ["list", "add", "log", "edit", "toggle", "rotate", "test", "delivery", "replay"]
WRITES = ["add", "edit", "toggle", "rotate", "test", "replay"]


@pytest.mark.parametrize("name", ALL_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_on_every_webhook_url(login, org, outsider, endpoint, name, method):
    delivery = make_delivery(endpoint)
    response = getattr(login(outsider), method)(urls(org, endpoint, delivery)[name], form_data())
    assert response.status_code == 404


def test_an_endpoint_or_delivery_of_another_organization_is_a_404(login, org, other_org, manager):
    theirs = WebhookEndpoint.objects.create(
        organization=other_org, url=HOOK_URL, event_types=["booking_completed"]
    )
    delivery = make_delivery(theirs)
    client = login(manager)
    mine = urls(org, theirs, delivery)  # our organization's URLs with their codes
    for name in ["edit", "rotate", "delivery"]:
        assert client.get(mine[name]).status_code == 404
    for name in ["edit", "toggle", "rotate", "test", "replay"]:
        assert client.post(mine[name], form_data(url="https://evil.example/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled and theirs.url == HOOK_URL
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("name", WRITES)
def test_viewer_gets_403_on_writes(login, org, viewer, endpoint, name):
    delivery = make_delivery(endpoint)
    secret = endpoint.secret
    response = login(viewer).post(
        urls(org, endpoint, delivery)[name], form_data(url="https://changed.example/")
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.enabled, endpoint.secret) == (HOOK_URL, True, secret)
    assert WebhookEndpoint.objects.count() == 1 and WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("name", ["add", "rotate"])
def test_viewer_gets_403_on_the_add_and_rotate_pages(login, org, viewer, endpoint, name):
    assert login(viewer).get(urls(org, endpoint)[name]).status_code == 403


def test_viewer_sees_endpoints_and_deliveries_read_only(login, org, viewer, endpoint):
    delivery = make_delivery(endpoint, attempts=[(500, "boom", "")])
    client = login(viewer)
    page = client.get(urls(org)["list"]).text
    assert HOOK_URL in page
    assert "Turn off" not in page and "Add endpoint" not in page
    page = client.get(urls(org, endpoint)["edit"]).text
    assert "ask a manager or an owner" in page
    assert '<fieldset class="webhook-fields" disabled>' in page
    assert "Rotate secret" not in page and "Send test event</button>" not in page
    page = client.get(urls(org, delivery=delivery)["delivery"]).text
    assert "boom" in page and ">Replay</button>" not in page
    assert ">Replay<" not in client.get(urls(org)["log"]).text


def test_sidebar_links_to_webhooks(login, org, viewer):
    page = login(viewer).get(reverse("tenants-dashboard", args=[org.slug])).text
    assert reverse("attribution-webhooks", args=[org.slug]) in page


# --- The list ---


def test_empty_list_explains_webhooks_with_a_payload_and_a_receiver(login, org, manager):
    page = login(manager).get(urls(org)["list"]).text
    assert "Send bookings to your other tools" in page
    assert "&quot;type&quot;: &quot;booking_completed&quot;" in page  # the example body
    assert "from standardwebhooks import Webhook" in page
    assert "webhook.verify(request.body, request.headers)" in page
    assert urls(org)["add"] in page


def test_list_shows_events_state_and_health(login, org, manager, endpoint):
    now = timezone.now()
    make_delivery(endpoint, attempts=[(200, "ok", "")])
    broken = WebhookEndpoint.objects.create(
        organization=org,
        url="https://gone.lumen.example/hook",
        event_types=["booking_started", "booking_failed"],
        enabled=False,
        disabled_reason="The endpoint answered 410 Gone",
        consecutive_failures=7,
        failing_since=now - timedelta(days=2),
    )
    make_delivery(broken, state="failed", attempts=[(503, "", ""), (None, "", "Timed out")])
    page = login(manager).get(urls(org)["list"]).text
    assert "Booking completed" in page and "Booking started" in page and "Booking failed" in page
    assert "The endpoint answered 410 Gone" in page
    assert "7 failed attempts in a row" in page and "failing since" in page
    assert "Healthy" in page and ">200<" in page and "No answer" in page
    assert f"{urls(org)['log']}?endpoint={endpoint.code}" in page
    assert "Turn on" in page and "Turn off" in page


def test_list_shows_only_this_organizations_endpoints(login, org, other_org, viewer, endpoint):
    WebhookEndpoint.objects.create(
        organization=other_org, url="https://theirs.example/", event_types=["booking_started"]
    )
    page = login(viewer).get(urls(org)["list"]).text
    assert HOOK_URL in page and "theirs.example" not in page


# --- Adding an endpoint: the secret is shown once ---


def test_manager_adds_an_endpoint_and_sees_its_secret_once(login, org, manager):
    client = login(manager)
    response = client.post(urls(org)["add"], form_data(url=f"  {HOOK_URL}  "))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert endpoint.url == HOOK_URL and endpoint.description == "Zapier"
    assert endpoint.event_types == ["booking_started", "booking_completed"]
    assert endpoint.enabled and endpoint.secret.startswith("whsec_")
    page = response.text
    assert endpoint.secret in page
    assert 'data-copy="#webhook-secret"' in page and 'id="webhook-secret"' in page
    assert "the only time Chairfill shows this secret" in page

    # Nowhere else: not the list, the endpoint page, the log or the audit trail.
    for url in [urls(org)["list"], urls(org, endpoint)["edit"], urls(org)["log"]]:
        assert endpoint.secret not in client.get(url).text
    assert endpoint.secret[6:] not in client.get(urls(org, endpoint)["edit"]).text
    entry = AuditLog.objects.get(action="webhook.created")
    assert (entry.organization, entry.actor, entry.target) == (org, manager, HOOK_URL)
    assert endpoint.secret not in str(entry.details) and "whsec" not in str(entry.details)
    assert endpoint.secret[6:] not in repr(endpoint)


def test_the_secret_is_encrypted_in_the_database(org, manager, endpoint):
    stored, _ = raw_secrets(endpoint)
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert "whsec_" not in stored and endpoint.secret[6:] not in stored
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_agency_member_adds_an_endpoint(login, org, agency_member):
    response = login(agency_member).post(urls(org)["add"], form_data())
    assert response.status_code == 200
    assert WebhookEndpoint.objects.filter(organization=org).count() == 1


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/"],
)
def test_a_private_address_is_refused_with_the_senders_reason(login, org, manager, url):
    response = login(manager).post(urls(org)["add"], form_data(url=url))
    assert response.status_code == 200
    with pytest.raises(Exception) as refused:
        sender.validate_url(url)
    reason = refused.value.messages[0]
    assert reason in response.content.decode()  # the sender's plain words, as the field error
    assert 'id="id_url_error"' in response.text
    assert not WebhookEndpoint.objects.exists()


def test_a_host_name_resolving_to_a_private_address_is_refused(login, org, manager, monkeypatch):
    monkeypatch.setattr(sender, "resolve", lambda host, port: ["10.1.2.3"])
    response = login(manager).post(urls(org)["add"], form_data())
    assert response.status_code == 200
    assert 'id="id_url_error"' in response.text
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_needs_a_url_and_at_least_one_event(login, org, manager):
    response = login(manager).post(urls(org)["add"], form_data(url="", event_types=[]))
    assert "Enter the address that should receive the events." in response.text
    assert "Pick at least one event to send." in response.text
    assert not WebhookEndpoint.objects.exists()


def test_an_unknown_event_type_is_refused(login, org, manager):
    response = login(manager).post(urls(org)["add"], form_data(event_types=["everything"]))
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


# --- Editing, turning on and off ---


def test_manager_edits_an_endpoint_and_the_change_is_audited(login, org, manager, endpoint):
    endpoint.consecutive_failures, endpoint.failing_since = 3, timezone.now()
    endpoint.save()
    response = login(manager).post(
        urls(org, endpoint)["edit"],
        form_data(url="https://new.lumen.example/hook", event_types=["booking_failed"]),
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://new.lumen.example/hook"
    assert endpoint.event_types == ["booking_failed"] and endpoint.description == "Zapier"
    # A new address starts with a clean record.
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)
    entry = AuditLog.objects.get(action="webhook.updated")
    assert entry.actor == manager and entry.details["code"] == endpoint.code
    assert set(entry.details["changed"]) == {"url", "description", "event_types"}


def test_saving_an_unchanged_endpoint_writes_no_audit_entry(login, org, manager, endpoint):
    data = form_data(description="CRM", event_types=["booking_completed"])
    response = login(manager).post(urls(org, endpoint)["edit"], data)
    assert response.status_code == 302
    assert not AuditLog.objects.exists()


def test_the_edit_form_refuses_a_private_address(login, org, manager, endpoint):
    response = login(manager).post(urls(org, endpoint)["edit"], form_data(url="http://10.0.0.1/"))
    assert response.status_code == 200 and 'id="id_url_error"' in response.text
    endpoint.refresh_from_db()
    assert endpoint.url == HOOK_URL


def test_turning_an_endpoint_off_and_on(login, org, manager, endpoint):
    client = login(manager)
    response = client.post(urls(org, endpoint)["toggle"], {"enabled": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="endpoint-{endpoint.code}"' in response.text and "Turn on" in response.text
    assert "<html" not in response.text
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Turned off by Max Manager"
    assert "Turned off by Max Manager" in response.text

    # Off after failures (as delivery leaves it): turning it on starts its health afresh.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_reason="Every delivery failed for 5 days",
        consecutive_failures=40,
        failing_since=timezone.now() - timedelta(days=5),
    )
    response = client.post(urls(org, endpoint)["toggle"], {"enabled": "1"})
    assert response.status_code == 302 and response.url == urls(org)["list"]
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)
    actions = list(AuditLog.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["webhook.disabled", "webhook.enabled"]


def test_a_repeated_toggle_keeps_the_asked_state(login, org, manager, endpoint):
    client = login(manager)
    client.post(urls(org, endpoint)["toggle"], {"enabled": "0"})
    client.post(urls(org, endpoint)["toggle"], {"enabled": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert AuditLog.objects.filter(action="webhook.disabled").count() == 1


def test_reenabling_through_the_edit_form_clears_the_health(login, org, manager, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason="The endpoint answered 410 Gone", consecutive_failures=1
    )
    client = login(manager)
    assert "The endpoint answered 410 Gone" in client.get(urls(org, endpoint)["edit"]).text
    client.post(urls(org, endpoint)["edit"], form_data())
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert endpoint.consecutive_failures == 0


# --- Rotating the secret ---


def test_rotating_keeps_the_previous_secret_for_a_day(login, org, manager, endpoint):
    old = endpoint.secret
    client = login(manager)
    page = client.get(urls(org, endpoint)["rotate"]).text
    assert "two signatures" in page and "24 hours" in page
    assert old not in page

    before = timezone.now()
    response = client.post(urls(org, endpoint)["rotate"])
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")
    assert endpoint.previous_secret == old
    overlap = endpoint.previous_secret_until - before
    assert timedelta(hours=23, minutes=59) < overlap <= timedelta(hours=24, seconds=5)
    assert endpoint.secrets_at() == [endpoint.secret, old]
    assert endpoint.secrets_at(before + timedelta(hours=25)) == [endpoint.secret]
    assert endpoint.secret in response.text and old not in response.text
    assert "two signatures" in response.text

    page = client.get(urls(org, endpoint)["edit"]).text
    assert endpoint.secret not in page and old not in page
    assert "also carry a signature with the previous secret" in page
    _, stored_previous = raw_secrets(endpoint)
    assert stored_previous.startswith("gAAAAA") and old[6:] not in stored_previous
    entry = AuditLog.objects.get(action="webhook.secret_rotated")
    assert old not in str(entry.details) and endpoint.secret not in str(entry.details)


def test_rotating_twice_drops_the_oldest_secret(login, org, manager, endpoint):
    first = endpoint.secret
    client = login(manager)
    client.post(urls(org, endpoint)["rotate"])
    assert "overlap is still running" in client.get(urls(org, endpoint)["rotate"]).text
    client.post(urls(org, endpoint)["rotate"])
    endpoint.refresh_from_db()
    assert first not in endpoint.secrets_at() and len(endpoint.secrets_at()) == 2


# --- The delivery log ---


def test_the_log_lists_deliveries_with_their_last_attempt(login, org, manager, endpoint):
    make_delivery(endpoint, state="succeeded", attempts=[(200, "thanks", "")])
    waiting = make_delivery(endpoint, attempts=[(500, "<script>alert(1)</script>" + "x" * 200, "")])
    page = login(manager).get(urls(org)["log"]).text
    assert waiting.event.public_id in page and "booking_completed" in page
    assert "Delivered" in page and "Retrying" in page
    assert ">500<" in page and ">200<" in page and "120 ms" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "x" * 100 not in page  # the excerpt is cut short in the list
    assert "in 4\xa0minutes" in page or "in 5\xa0minutes" in page


@pytest.fixture
def mixed_deliveries(org, endpoint):
    other = WebhookEndpoint.objects.create(
        organization=org, url="https://other.lumen.example/", event_types=["booking_started"]
    )
    return {
        "completed_ok": make_delivery(endpoint, state="succeeded"),
        "completed_failed": make_delivery(endpoint, state="failed"),
        "started_pending": make_delivery(other, type="booking_started"),
        "other": other,
    }


@pytest.mark.parametrize(
    "query,expected",
    [
        ({}, {"completed_ok", "completed_failed", "started_pending"}),
        ({"state": "failed"}, {"completed_failed"}),
        ({"type": "booking_started"}, {"started_pending"}),
        ({"endpoint": "OTHER"}, {"started_pending"}),
        ({"endpoint": "ENDPOINT", "state": "succeeded"}, {"completed_ok"}),
        ({"state": "nonsense"}, {"completed_ok", "completed_failed", "started_pending"}),
    ],
)
def test_the_log_filters(login, org, manager, endpoint, mixed_deliveries, query, expected):
    codes = {"OTHER": mixed_deliveries["other"].code, "ENDPOINT": endpoint.code}
    query = {key: codes.get(value, value) for key, value in query.items()}
    page = login(manager).get(urls(org)["log"], query).text
    for name in ["completed_ok", "completed_failed", "started_pending"]:
        assert (mixed_deliveries[name].event.public_id in page) == (name in expected), name


def test_the_filter_form_swaps_only_the_results(login, org, manager, endpoint, mixed_deliveries):
    response = login(manager).get(
        urls(org)["log"],
        {"state": "failed"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="delivery-results",
    )
    page = response.text
    assert page.lstrip().startswith('<section class="card" id="delivery-results"')
    assert mixed_deliveries["completed_failed"].event.public_id in page
    assert mixed_deliveries["completed_ok"].event.public_id not in page


def test_no_matching_delivery_says_so(login, org, manager, endpoint):
    page = login(manager).get(urls(org)["log"], {"state": "failed"}).text
    assert "No deliveries match" in page


def test_the_log_shows_only_this_organizations_deliveries(login, org, other_org, manager):
    theirs = WebhookEndpoint.objects.create(
        organization=other_org, url=HOOK_URL, event_types=["booking_completed"]
    )
    delivery = make_delivery(theirs)
    page = login(manager).get(urls(org)["log"], {"endpoint": theirs.code}).text
    assert delivery.event.public_id not in page


def test_the_log_pages_by_fifty(login, org, manager, endpoint):
    deliveries = [make_delivery(endpoint, state="succeeded") for _ in range(51)]
    client = login(manager)
    page = client.get(urls(org)["log"], {"state": "succeeded"}).text
    assert "Page 1 of 2" in page
    assert deliveries[0].event.public_id not in page  # the oldest is on page 2
    assert "?state=succeeded&amp;page=2" in page
    page = client.get(urls(org)["log"], {"state": "succeeded", "page": 2}).text
    assert deliveries[0].event.public_id in page and deliveries[-1].event.public_id not in page


def test_a_delivery_lists_its_attempts_and_payload(login, org, viewer, endpoint):
    delivery = make_delivery(
        endpoint,
        attempts=[(None, "", "Connection refused"), (503, "<b>busy</b>", "")],
    )
    page = login(viewer).get(urls(org, delivery=delivery)["delivery"]).text
    assert "Connection refused" in page and "&lt;b&gt;busy&lt;/b&gt;" in page
    assert ">503<" in page and "120 ms" in page
    assert f"webhook-id: {delivery.event.public_id}" in page
    assert "&quot;guest&quot;: {}" in page


# --- Replay and the test event ---


def test_replay_creates_a_new_delivery_of_the_same_event(login, org, manager, endpoint):
    original = make_delivery(endpoint, state="failed", attempts=[(500, "", "")])
    response = login(manager).post(urls(org, delivery=original)["replay"])
    again = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response.url == urls(org, delivery=again)["delivery"]
    assert (again.event, again.endpoint, again.replay_of) == (original.event, endpoint, original)
    assert again.state == "pending" and again.attempts == 0


def test_replay_to_a_disabled_endpoint_is_refused(login, org, manager, endpoint):
    original = make_delivery(endpoint, state="failed")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    response = login(manager).post(urls(org, delivery=original)["replay"], follow=True)
    assert "Turn the endpoint on to replay" in response.text
    assert WebhookDelivery.objects.count() == 1


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_send_test_event_shows_the_result(
    login, org, manager, receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(
        organization=org, url=receiver.url, event_types=["booking_completed"]
    )
    receiver.reply = (200, {}, b"got it")
    client = login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            urls(org, endpoint)["test"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="test-result"
        )
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test"
    assert response.text.lstrip().startswith('<div id="test-result"')
    # The answer was rendered before the (synchronous) job ran; it polls for the outcome.
    assert "?poll=1" in response.text

    [received] = receiver.requests
    assert verify(endpoint.secret, received.body, received.headers)["type"] == "webhook.test"
    response = client.get(
        urls(org, delivery=delivery)["delivery"] + "?poll=1",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="test-result",
    )
    assert "Delivered" in response.text and ">200<" in response.text
    assert "got it" in response.text and "hx-get" not in response.text


def test_send_test_event_without_htmx_goes_to_the_delivery(login, org, manager, endpoint):
    response = login(manager).post(urls(org, endpoint)["test"])
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert response.status_code == 302
    assert response.url == urls(org, delivery=delivery)["delivery"]


def test_send_test_event_to_a_disabled_endpoint_is_refused(login, org, manager, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    response = login(manager).post(urls(org, endpoint)["test"], HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == urls(org, endpoint)["edit"]
    assert not WebhookDelivery.objects.exists()
