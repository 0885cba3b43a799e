"""The catalog cache: per center, the services bookable online, their categories and the
therapists of each service, kept in the Django cache so guest page views cost no upstream calls
in steady state.

Entries are fresh for CATALOG_TTL_SECONDS and refreshed every 10 minutes by a scheduled job
(`refresh_center_catalog`). A miss is single-flight across processes: the first caller takes a
lock with `cache.add` (atomic in Redis and the database cache) and calls Zenoti; the others wait
briefly for its answer instead of calling too. Each entry is kept for a day past its freshness,
and that stale copy is served when a refresh fails — a Zenoti outage shows yesterday's menu,
not an error page.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from booking.services import client_for
from booking.zenoti import errors
from tenants.models import Center

logger = logging.getLogger(__name__)

VERSION = 1  # bump when the cached shapes change
STALE_SECONDS = 24 * 60 * 60
# How long a loader may hold the lock: past the client's deadline it has given up anyway.
LOCK_SECONDS = 30
POLL_SECONDS = 0.05
# A failed load is remembered this long, so the waiters raise it instead of each retrying.
FAILURE_SECONDS = 5

_now = time.time  # the clock, replaced in tests
_sleep = time.sleep


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    service_count: int


def key(center, *parts):
    # The center's upstream identity is part of the key: pointing a center at another Zenoti
    # center (or from the sandbox to Zenoti) starts from an empty catalog.
    upstream = hashlib.sha256(
        f"{center.api_base_url.rstrip('/').lower()}\n{center.zenoti_center_id.lower()}".encode()
    ).hexdigest()[:16]
    return ":".join(["catalog", f"v{VERSION}", str(center.pk), upstream, *parts])


def _store(key, value, ttl=None, stale_seconds=STALE_SECONDS):
    ttl = settings.CATALOG_TTL_SECONDS if ttl is None else ttl
    cache.set(key, {"value": value, "fresh_until": _now() + ttl}, timeout=ttl + stale_seconds)


def load(key, loader, *, force=False, ttl=None, stale_seconds=STALE_SECONDS):
    """The cached value for key, loading it once (across processes) when missing or stale.
    `ttl` defaults to CATALOG_TTL_SECONDS; a stale copy is kept `stale_seconds` longer."""
    entry = cache.get(key)
    seen_until = entry["fresh_until"] if entry is not None else 0
    if entry is not None and not force and seen_until > _now():
        return entry["value"]
    lock_key, failure_key = f"{key}:lock", f"{key}:failed"
    give_up_at = _now() + settings.ZENOTI_DEADLINE + 1
    # Guests get the stale copy when loading fails; the refresh job (force) gets the error, so
    # it can stop, and the stale copy stays in the cache for the guests.
    serve_stale = entry is not None and not force
    while True:
        failure = cache.get(failure_key)
        if failure is not None:
            if serve_stale:
                return entry["value"]
            raise failure
        if cache.add(lock_key, 1, timeout=LOCK_SECONDS):
            try:
                # Whoever held the lock before may have stored a fresh copy just now.
                latest = cache.get(key)
                if latest is not None and latest["fresh_until"] > max(seen_until, _now()):
                    return latest["value"]
                value = loader()
                # Stored before the lock is released, so no waiter finds neither.
                _store(key, value, ttl, stale_seconds)
            except errors.ZenotiError as exc:
                # A budget refusal says nothing about Zenoti (and a background refusal nothing
                # about what a guest would get): only upstream failures are remembered.
                if not isinstance(exc, errors.BudgetExhaustedError):
                    cache.set(failure_key, exc, timeout=FAILURE_SECONDS)
                if serve_stale:
                    logger.warning("Catalog refresh failed, serving the stale copy: %s", exc)
                    return entry["value"]
                raise
            finally:
                cache.delete(lock_key)
            return value
        # Someone else is loading. A stale copy is good enough meanwhile.
        if serve_stale:
            return entry["value"]
        _sleep(POLL_SECONDS)
        latest = cache.get(key)
        if latest is not None and latest["fresh_until"] > max(seen_until, _now()):
            return latest["value"]
        if _now() > give_up_at:
            raise errors.ZenotiTimeoutError(
                "Loading the service menu from Zenoti is taking too long: try again in a minute."
            )


def is_bookable(service):
    return service.can_book


def services(center, *, force=False, priority="interactive"):
    """The services of this center that guests may book online, in Zenoti's order."""

    def load_services():
        with client_for(center, priority=priority) as client:
            return [s for s in client.list_services(center.zenoti_center_id) if is_bookable(s)]

    return load(key(center, "services"), load_services, force=force)


def categories(center):
    """Categories derived from the bookable services (Zenoti has no category endpoint we need)."""
    seen = {}
    for service in services(center):
        category_id = service.category_id or ""
        if category_id not in seen:
            seen[category_id] = [service.category_name or "Other services", 0]
        seen[category_id][1] += 1
    return [Category(id=cid, name=name, service_count=n) for cid, (name, n) in seen.items()]


def therapists(center, service_id, *, force=False, priority="interactive"):
    """The therapists who perform this service at this center."""

    def load_therapists():
        with client_for(center, priority=priority) as client:
            return client.list_service_therapists(center.zenoti_center_id, service_id)

    return load(key(center, "therapists", service_id.lower()), load_therapists, force=force)


def prime_services(center, all_services):
    """Store a list of services just read from Zenoti (Test connection), keeping the bookable."""
    bookable = [s for s in all_services if is_bookable(s)]
    _store(key(center, "services"), bookable)
    return bookable


def refresh_center_catalog(center_id):
    """Scheduled job: reload a center's services and the therapists of each, at background
    priority. Stops politely when the budget is down to the reserve kept for guests, and leaves
    the rest of the catalog to the next run (the stale copies keep serving meanwhile)."""
    center = Center.objects.filter(pk=center_id, enabled=True).first()
    if center is None:
        return "gone"
    try:
        menu = services(center, force=True, priority="background")
        for service in menu:
            therapists(center, service.id, force=True, priority="background")
    except errors.BudgetExhaustedError:
        logger.info(
            "Catalog refresh of center %s paused: rate-limit budget kept for guests", center_id
        )
        return "paused"
    except errors.ZenotiError as exc:
        logger.warning("Catalog refresh of center %s failed: %s", center_id, exc)
        return "failed"
    return f"{len(menu)} services"
