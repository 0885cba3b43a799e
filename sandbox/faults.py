"""Fault knobs: which faults hit one API request, drawn from a random.Random seeded with the
organization's `fault_seed` and the request's number, so a run is reproducible.

Hangs and lost responses really wait `hang_seconds` over HTTP. In-process callers
(`sandbox.testing.SandboxTransport`) send IN_PROCESS_HEADER with their read timeout; the
sandbox then skips the wait and marks the answer with FAULT_HEADER, which the transport
turns into an httpx.ReadTimeout. Added latency at or beyond that read timeout is marked too.
"""

import random
from dataclasses import dataclass

from django.http import HttpResponse, JsonResponse

FAULT_HEADER = "X-Sandbox-Fault"  # "hang" | "lost-response" | "late"
TIMEOUT_FAULTS = {"hang", "lost-response", "late"}
IN_PROCESS_HEADER = "X-Sandbox-In-Process"  # value: the caller's read timeout, or "none"

# What a failing Zenoti looks like from outside: its own JSON error, or a proxy's HTML page.
SERVER_ERRORS = ("500-json", "502-html", "503-html")

_HTML = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><h1>{status} {reason}</h1><p>The server is temporarily unable to answer.</p>"
    "</body></html>"
)


@dataclass(frozen=True)
class Plan:
    rate_limited: bool = False
    server_error: str | None = None  # one of SERVER_ERRORS
    hang: bool = False
    lose_response: bool = False  # writes only: commit, then never answer
    steal: bool = False  # reserve only: another guest takes the slot first


def draw(org, request_number):
    rng = random.Random(f"{org.fault_seed}:{request_number}")  # noqa: S311 - reproducible, not secret
    rate_limited, error, hang, lose, steal = (rng.random() for _ in range(5))
    kind = rng.choice(SERVER_ERRORS)
    return Plan(
        rate_limited=rate_limited < org.rate_limited_rate,
        server_error=kind if error < org.error_rate else None,
        hang=hang < org.hang_rate,
        lose_response=lose < org.lose_response_rate,
        steal=steal < org.steal_rate,
    )


def in_process(request):
    """(called in-process?, the caller's read timeout in seconds or None)."""
    value = request.headers.get(IN_PROCESS_HEADER)
    if value is None:
        return False, None
    try:
        timeout = float(value)
    except ValueError:
        timeout = None
    return True, timeout if timeout is not None and timeout >= 0 else None


def server_error_response(kind):
    if kind == "500-json":
        return JsonResponse({"Message": "An error has occurred."}, status=500)
    status, reason = (502, "Bad Gateway") if kind == "502-html" else (503, "Service Unavailable")
    return HttpResponse(_HTML.format(status=status, reason=reason), status=status)


def gateway_timeout_response():
    """What a client that waited long enough would get after a hang."""
    response = HttpResponse(_HTML.format(status=504, reason="Gateway Timeout"), status=504)
    response[FAULT_HEADER] = "hang"
    return response
