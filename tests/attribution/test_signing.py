"""attribution.signing against the independent `standardwebhooks` package: what we sign, any
Standard Webhooks receiver verifies, and anything tampered with it refuses."""

import json
import random
import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from attribution import signing
from attribution.models import WebhookEndpoint, webhook_secret

from .receiver import verify

# The known-answer vector of the Standard Webhooks reference libraries' tests.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# Code points to draw random text from: ASCII, Latin, Greek, CJK, emoji and the characters
# JSON must escape (quote, backslash, controls) — never a lone surrogate, which has no UTF-8.
ALPHABET = (
    [chr(c) for c in range(0x20, 0x7F)]
    + ['"', "\\", "\n", "\t", "\x00", "\u2028"]
    + [chr(c) for c in range(0xC0, 0x250)]
    + [chr(c) for c in range(0x391, 0x3CA)]
    + [chr(c) for c in range(0x4E00, 0x4E80)]
    + [chr(c) for c in range(0x1F600, 0x1F650)]
)


def random_text(rng, longest=200):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def event(payload, public_id="evt_test"):
    return SimpleNamespace(payload=payload, public_id=public_id)


def at(timestamp):
    return datetime.fromtimestamp(timestamp, UTC)


def test_the_standard_webhooks_test_vector_reproduces_exactly():
    assert signing.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, [VECTOR_SECRET]) == (
        VECTOR_SIGNATURE
    )
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, VECTOR_BODY, headers, at=at(VECTOR_TIMESTAMP)) == {
        "test": 2432232314
    }


def test_standardwebhooks_verifies_a_thousand_random_deliveries():
    rng = random.Random(20240605)
    for _ in range(1000):
        secret = webhook_secret()
        payload = {
            "type": "booking_completed",
            "guest": {"first_name": random_text(rng, 30), "notes": random_text(rng)},
            "n": rng.randint(-(2**53), 2**53),
            "tags": [random_text(rng, 10) for _ in range(rng.randint(0, 4))],
        }
        msg_id = "evt_" + secrets.token_hex(rng.randint(4, 16))
        timestamp = rng.randint(1_000_000_000, 4_000_000_000)
        body = signing.payload_bytes(event(payload, msg_id))
        headers = signing.headers(event(payload, msg_id), body, [secret], at(timestamp))
        assert verify(secret, body, headers, at=at(timestamp)) == payload


def test_the_body_is_compact_utf8_json_and_the_same_bytes_every_time():
    payload = {"type": "booking_started", "guest": {"first_name": "Zoë 🌸", "note": 'a "b"'}}
    body = signing.payload_bytes(event(payload))
    assert (
        body
        == '{"type":"booking_started","guest":{"first_name":"Zoë 🌸","note":"a \\"b\\""}}'.encode()
    )
    assert signing.payload_bytes(event(payload)) == body


def test_a_lone_surrogate_is_escaped_rather_than_breaking_the_body():
    body = signing.payload_bytes(event({"name": "broken \ud83d"}))
    assert body == b'{"name":"broken \\ud83d"}'
    assert json.loads(body) == {"name": "broken \ud83d"}


def test_the_headers_carry_the_event_id_the_attempt_time_and_who_we_are():
    secret = webhook_secret()
    now = datetime(2025, 3, 1, 12, 0, 30, 900000, tzinfo=UTC)
    body = b"{}"
    headers = signing.headers(event({}, "evt_abc"), body, [secret], now)
    assert headers == {
        "webhook-id": "evt_abc",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signing.sign("evt_abc", int(now.timestamp()), body, [secret]),
        "content-type": "application/json",
        "user-agent": "Chairfill-Webhooks/1",
    }


@pytest.fixture
def signed():
    secret = webhook_secret()
    now = datetime.now(UTC)
    payload = {"type": "booking_completed", "guest": {"first_name": "Jane"}}
    body = signing.payload_bytes(event(payload, "evt_original"))
    return secret, body, signing.headers(event(payload, "evt_original"), body, [secret], now)


def test_the_untampered_delivery_verifies(signed):
    secret, body, headers = signed
    assert verify(secret, body, headers)["guest"] == {"first_name": "Jane"}


def test_a_tampered_body_is_rejected(signed):
    secret, body, headers = signed
    with pytest.raises(WebhookVerificationError):
        verify(secret, body.replace(b"Jane", b"Jake"), headers)


def test_a_tampered_id_is_rejected(signed):
    secret, body, headers = signed
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**headers, "webhook-id": "evt_other"})


def test_a_tampered_timestamp_is_rejected(signed):
    secret, body, headers = signed
    earlier = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**headers, "webhook-timestamp": earlier})


def test_a_wrong_secret_is_rejected(signed):
    _, body, headers = signed
    with pytest.raises(WebhookVerificationError):
        verify(webhook_secret(), body, headers)


def test_secrets_without_their_base64_padding_sign_as_the_reference_does():
    secret = webhook_secret()  # 32 bytes: one "=" of padding
    assert secret.endswith("=")
    unpadded = secret.rstrip("=")
    assert signing.sign("evt_x", 1, b"{}", [unpadded]) == Webhook(secret).sign("evt_x", at(1), "{}")


def test_during_a_rotation_both_secrets_sign_and_each_verifies(db):
    now = datetime.now(UTC)
    endpoint = WebhookEndpoint(
        url="https://hooks.example/in",
        previous_secret=webhook_secret(),
        previous_secret_until=now + timedelta(hours=24),
    )
    payload = {"type": "booking_started"}
    body = signing.payload_bytes(event(payload))
    headers = signing.headers(event(payload), body, endpoint.secrets_at(now), now)
    first, second = headers["webhook-signature"].split(" ")
    assert first.startswith("v1,") and second.startswith("v1,")
    assert verify(endpoint.secret, body, headers) == payload
    assert verify(endpoint.previous_secret, body, headers) == payload
    with pytest.raises(WebhookVerificationError):
        verify(webhook_secret(), body, headers)


def test_after_the_overlap_only_the_new_secret_signs(db):
    now = datetime.now(UTC)
    endpoint = WebhookEndpoint(
        url="https://hooks.example/in",
        previous_secret=webhook_secret(),
        previous_secret_until=now - timedelta(seconds=1),
    )
    body = b"{}"
    headers = signing.headers(event({}), body, endpoint.secrets_at(now), now)
    assert " " not in headers["webhook-signature"]
    verify(endpoint.secret, body, headers, at=now)
    with pytest.raises(WebhookVerificationError):
        verify(endpoint.previous_secret, body, headers, at=now)
