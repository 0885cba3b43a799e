"""In-process access to the sandbox for tests: an httpx transport onto Django (no sockets)
and helpers to set fault knobs.

    client = httpx.Client(base_url=BASE_URL, transport=SandboxTransport(),
                          headers={"Authorization": "apikey sandbox-lumen-key"})

SandboxTransport goes through `django.test.Client`, so requests run on the test's database
connection (inside its transaction) and Django's request signals behave as in any view
test. Hang and lost-response faults, and added latency at or beyond the request's read
timeout, raise httpx.ReadTimeout at once instead of waiting.
"""

from datetime import timedelta

import httpx
from django.test import Client

from sandbox import clock, faults
from sandbox.models import SandboxOrganization

BASE_URL = "http://testserver/sandbox/zenoti/v1"
LUMEN_KEY = "sandbox-lumen-key"
WILLOW_KEY = "sandbox-willow-key"

KNOBS = (
    "latency_ms",
    "error_rate",
    "hang_rate",
    "hang_seconds",
    "rate_limited_rate",
    "steal_rate",
    "lose_response_rate",
    "business_errors_as_200",
    "fault_seed",
    "referral_required",
    "rate_limit",
    "rate_window_seconds",
    "rate_burst",
)


class SandboxTransport(httpx.BaseTransport):
    def __init__(self):
        self.client = Client()

    def handle_request(self, request):
        url = request.url
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {"host", "content-length", "content-type"}
        }
        read_timeout = request.extensions.get("timeout", {}).get("read")
        headers[faults.IN_PROCESS_HEADER] = "none" if read_timeout is None else str(read_timeout)
        path = url.raw_path.decode("ascii")
        response = self.client.generic(
            request.method,
            path,
            data=request.read(),
            content_type=request.headers.get("content-type", "application/octet-stream"),
            secure=url.scheme == "https",
            headers=headers,
            SERVER_NAME=url.host,
            SERVER_PORT=str(url.port or (443 if url.scheme == "https" else 80)),
        )
        fault = response.headers.get(faults.FAULT_HEADER)
        if fault in faults.TIMEOUT_FAULTS:
            raise httpx.ReadTimeout(f"Sandbox fault: {fault}", request=request)
        return httpx.Response(
            response.status_code,
            headers=list(response.headers.items()),
            content=response.content,
            request=request,
        )


def set_faults(org_slug, **knobs):
    """Set fault knobs (and rate-limit settings) of a sandbox organization, e.g.
    set_faults("lumen", error_rate=1.0). Changing the rate limit refills the bucket."""
    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise TypeError(f"Unknown sandbox knob(s): {', '.join(sorted(unknown))}")
    org = SandboxOrganization.objects.get(slug=org_slug)
    for name, value in knobs.items():
        setattr(org, name, value)
    fields = list(knobs)
    if {"rate_limit", "rate_window_seconds", "rate_burst"} & set(knobs):
        org.bucket_tokens = org.bucket_checked_at = None
        fields += ["bucket_tokens", "bucket_checked_at"]
    org.full_clean()
    org.save(update_fields=fields)
    return org


def reset_faults(org_slug):
    """Back to a healthy sandbox with Zenoti's default rate limit and a full bucket."""
    defaults = {
        name: SandboxOrganization._meta.get_field(name).default
        for name in KNOBS
        if name != "referral_required"
    }
    return set_faults(org_slug, **defaults)


def api_client(key=LUMEN_KEY):
    """An httpx client on the sandbox API, in-process, signed with `key`."""
    return httpx.Client(
        base_url=BASE_URL, transport=SandboxTransport(), headers={"Authorization": f"apikey {key}"}
    )


class FrozenClock:
    """The sandbox's clock stopped at `at` (aware); `advance(minutes=…)` moves it on."""

    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += timedelta(**delta)


def freeze_clock(monkeypatch, at):
    """Stop the sandbox's clock (holds, rate-limit refill, "now" for slots) at `at`."""
    frozen = FrozenClock(at)
    monkeypatch.setattr(clock, "now", frozen)
    return frozen
