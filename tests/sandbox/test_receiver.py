"""The sandbox's webhook receiver: stores what arrives and checks signatures with the
independent standardwebhooks library, as a customer's endpoint would."""

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from attribution.models import WebhookEndpoint
from sandbox.models import ReceivedWebhook

URL = "http://testserver/sandbox/receiver/"


@pytest.fixture
def endpoint(org):
    return WebhookEndpoint.objects.create(
        organization=org, url=URL, event_types=["booking_completed"]
    )


def post(client, body, secret, *, msg_id="evt_1"):
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return client.post(URL, body, content_type="application/json", headers=headers)


def test_a_correctly_signed_delivery_is_stored_as_verified(client, endpoint):
    body = json.dumps({"type": "booking_completed", "booking": {"service": {"name": "Cut"}}})
    assert post(client, body, endpoint.secret).status_code == 204
    received = ReceivedWebhook.objects.get()
    assert received.verified and received.event_type == "booking_completed"
    assert received.webhook_id == "evt_1"


def test_a_wrong_secret_or_a_tampered_body_is_not_verified(client, endpoint):
    other = WebhookEndpoint(organization=endpoint.organization, url=URL).secret
    post(client, '{"type": "booking_started"}', other)
    received = ReceivedWebhook.objects.get()
    assert not received.verified
    assert received.verify_error == "signature does not match the endpoint's secret"


def test_an_unregistered_receiver_says_so(client, db):
    post(client, "{}", WebhookEndpoint(url=URL).secret)
    assert ReceivedWebhook.objects.get().verify_error == (
        "no endpoint is registered for this address"
    )


def test_the_list_needs_a_sign_in_and_shows_what_arrived(client, endpoint, owner, login):
    body = json.dumps(
        {
            "type": "booking_completed",
            "attribution": {
                "last_touch": {"source": "google", "medium": "cpc"},
                "click_ids": {"gclid": "TEST123"},
            },
        }
    )
    post(client, body, endpoint.secret)
    assert client.get(URL).status_code == 302
    login(owner)
    page = client.get(URL).content.decode()
    assert "Verified" in page and "google / cpc" in page and "gclid=TEST123" in page
