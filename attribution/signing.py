"""Standard Webhooks signatures: what a delivery's body and headers are, so that any receiver
using a Standard Webhooks library (or the recipe in docs/webhooks.md) can verify them."""

import base64
import hashlib
import hmac
import json

SECRET_PREFIX = "whsec_"
USER_AGENT = "Chairfill-Webhooks/1"


def payload_bytes(event):
    """The bytes every attempt of `event` sends: compact UTF-8 JSON of its payload."""
    try:
        return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate (a guest's broken emoji, stored by SQLite) has no UTF-8 form; as
        # a \u escape it is still valid JSON, and still the same bytes on every attempt.
        return json.dumps(event.payload, separators=(",", ":")).encode()


def secret_key(secret):
    """The HMAC key of a "whsec_…" secret: the base64 after the prefix, decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    # Tolerate secrets pasted without their padding, as the reference libraries do.
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(msg_id, timestamp, body, secrets):
    """The `webhook-signature` value: one "v1,<base64 HMAC-SHA256>" of "id.timestamp.body"
    per secret, space-separated (two while a rotation's overlap lasts)."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret_key(s), content, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def headers(event, body, secrets, now):
    """The headers of one attempt. The id is the event's, the same on every retry and replay;
    the timestamp is the attempt's."""
    timestamp = int(now.timestamp())
    return {
        "webhook-id": event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(event.public_id, timestamp, body, secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
