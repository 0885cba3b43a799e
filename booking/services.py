"""Django glue for the Zenoti client: a ready client for a Center (its URL and decrypted key,
timeouts from settings, the shared rate-limit budget in the Django cache) that writes every
HTTP attempt to the call log."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils.module_loading import import_string

from booking.models import ZenotiCall
from booking.zenoti import Budget, Timeouts, ZenotiClient, budget_key, errors

logger = logging.getLogger(__name__)


def budget_for(center):
    """The rate-limit budget of the center's credentials, in the Django cache (Redis or the
    database: shared by every process). Zenoti limits per organization and a key belongs to one,
    so centers sharing a key share a budget; the cache key is a hash, never the key itself."""
    return Budget(
        store=cache,
        key=budget_key(center.api_base_url, center.api_key),
        background_reserve=settings.ZENOTI_BACKGROUND_RESERVE,
    )


def call_logger(center):
    """on_call hook: one ZenotiCall row per attempt. Logging must never break a booking."""
    organization_id, center_id = center.organization_id, center.pk

    def on_call(record):
        try:
            # A savepoint, so a failed insert cannot poison a caller's transaction.
            with transaction.atomic():
                ZenotiCall.objects.create(
                    organization_id=organization_id,
                    center_id=center_id,
                    method=record.method[:8],
                    path_template=record.path_template[:200],
                    status=record.status,
                    error_code=record.error_code,
                    latency_ms=record.latency_ms,
                    attempt=record.attempt,
                    ratelimit_remaining=record.ratelimit_remaining,
                    outcome=record.outcome,
                )
        except Exception:
            logger.exception("Could not write the Zenoti call log (center %s)", center_id)

    return on_call


def default_transport():
    """The httpx transport for upstream calls: None (real HTTP) unless ZENOTI_TRANSPORT names a
    factory. Tests set it to "sandbox.testing.SandboxTransport" to reach the sandbox in-process."""
    factory = settings.ZENOTI_TRANSPORT
    return import_string(factory)() if factory else None


def client_for(center, *, priority="interactive", transport=None, deadline=None):
    """A ZenotiClient for this center's credentials; `deadline` (seconds per call, retries
    included) defaults to ZENOTI_DEADLINE."""
    return ZenotiClient(
        center.api_base_url,
        center.api_key,
        budget=budget_for(center),
        timeouts=Timeouts(
            connect=settings.ZENOTI_CONNECT_TIMEOUT, read=settings.ZENOTI_READ_TIMEOUT
        ),
        deadline=settings.ZENOTI_DEADLINE if deadline is None else deadline,
        transport=transport if transport is not None else default_transport(),
        on_call=call_logger(center),
        priority=priority,
    )


TEST_CONNECTION_DEADLINE = 10.0


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str


def check_connection(center, *, transport=None):
    """Test connection: read the center and its services with the stored key, and say in plain
    words what works or what the owner should fix. Primes the catalog cache on success."""
    from booking import catalog  # catalog imports this module

    # Someone is watching a spinner: give up sooner than a guest page would.
    deadline = min(settings.ZENOTI_DEADLINE, TEST_CONNECTION_DEADLINE)
    try:
        with client_for(center, transport=transport, deadline=deadline) as client:
            zenoti_center = client.get_center(center.zenoti_center_id)
            all_services = client.list_services(center.zenoti_center_id)
    except errors.ZenotiError as exc:
        return ConnectionResult(False, connection_problem(center, exc))
    bookable = catalog.prime_services(center, all_services)
    count = len(bookable)
    return ConnectionResult(
        True,
        f"Connected to {zenoti_center.name or center.name} — "
        f"{count} service{pluralize(count)} bookable online.",
    )


def connection_problem(center, exc):
    """An upstream error as an owner would want to read it on the centers page (the client's
    own messages already say what to do; these two name the center's own setting)."""
    if isinstance(exc, errors.NotFoundError):
        return (
            f"Zenoti doesn't know the center ID {center.zenoti_center_id} for this key. "
            "Check the center ID, and that the key belongs to the same Zenoti organization."
        )
    if isinstance(exc, errors.ZenotiTimeoutError):
        return (
            "Zenoti didn't answer in time. Try again in a minute; if it keeps happening, "
            "Zenoti may be down or the API base URL may be wrong."
        )
    return exc.message
