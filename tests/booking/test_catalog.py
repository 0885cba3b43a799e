"""The catalog cache: bookable services, categories and therapists per center, a TTL, one
upstream call for many concurrent misses, the stale copy when Zenoti fails, and the
background refresh that yields to guests when the budget runs low."""

import threading
import time
from collections import Counter

import httpx
import pytest
from django.db import connection, connections

from booking import catalog, services
from booking.models import ZenotiCall
from booking.zenoti import ZenotiClient, errors

SERVICES = [
    {
        "id": "a1",
        "name": "Balayage",
        "duration": 120,
        "catalog_info": {"can_book": True, "category_id": "c-hair", "category_name": "Hair"},
    },
    {
        "id": "a2",
        "name": "Cut & style",
        "duration": 45,
        "catalog_info": {"can_book": True, "category_id": "c-hair", "category_name": "Hair"},
    },
    {
        "id": "a3",
        "name": "Bridal package",  # booked by phone only
        "duration": 240,
        "catalog_info": {"can_book": False, "category_id": "c-hair", "category_name": "Hair"},
    },
    {
        "id": "b1",
        "name": "Deep tissue massage",
        "duration": 60,
        "catalog_info": {"can_book": True, "category_id": "c-body", "category_name": "Body"},
    },
]
THERAPISTS = [{"id": "t1", "personal_info": {"first_name": "Ana", "last_name": "Ruiz"}}]


class FakeZenoti:
    """An httpx handler answering services and therapists, counting calls per kind."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.calls = Counter()
        self.refuse = False  # answer 401 (not retried, so tests stay fast)
        self._lock = threading.Lock()

    def __call__(self, request):
        path = request.url.path.lower()
        kind = "therapists" if path.endswith("/therapists") else "services"
        with self._lock:
            self.calls[kind] += 1
        time.sleep(self.delay)
        if self.refuse:
            return httpx.Response(401, json={"Message": "Authorization has been denied."})
        if kind == "therapists":
            return httpx.Response(200, json={"therapists": THERAPISTS, "error": None})
        page_info = {"total": len(SERVICES), "page": 1, "size": 100}
        return httpx.Response(
            200, json={"services": SERVICES, "page_info": page_info, "error": None}
        )


@pytest.fixture
def fake(monkeypatch):
    fake = FakeZenoti()
    monkeypatch.setattr(services, "default_transport", lambda: httpx.MockTransport(fake))
    return fake


@pytest.fixture
def clock(monkeypatch):
    """catalog's clock, moved by hand."""
    now = [time.time()]
    monkeypatch.setattr(catalog, "_now", lambda: now[0])
    return now


def test_only_services_bookable_online_are_offered(center, fake):
    assert [s.name for s in catalog.services(center)] == [
        "Balayage",
        "Cut & style",
        "Deep tissue massage",
    ]


def test_categories_are_derived_from_bookable_services(center, fake):
    assert [(c.name, c.service_count) for c in catalog.categories(center)] == [
        ("Hair", 2),
        ("Body", 1),
    ]
    assert fake.calls["services"] == 1


def test_therapists_are_cached_per_service(center, fake):
    assert [t.name for t in catalog.therapists(center, "a1")] == ["Ana Ruiz"]
    catalog.therapists(center, "a1")
    catalog.therapists(center, "b1")
    assert fake.calls["therapists"] == 2


def test_catalog_is_served_from_cache_until_the_ttl_passes(center, fake, clock, settings):
    settings.CATALOG_TTL_SECONDS = 900
    catalog.services(center)
    clock[0] += 899
    catalog.services(center)
    assert fake.calls["services"] == 1
    clock[0] += 2
    catalog.services(center)
    assert fake.calls["services"] == 2


def test_a_stale_copy_is_served_when_the_refresh_fails(center, fake, clock, caplog):
    catalog.services(center)
    clock[0] += catalog.STALE_SECONDS / 2
    fake.refuse = True
    assert len(catalog.services(center)) == 3
    assert fake.calls["services"] == 2
    assert "serving the stale copy" in caplog.text


def test_without_a_stale_copy_the_error_is_raised(center, fake):
    fake.refuse = True
    with pytest.raises(errors.AuthError):
        catalog.services(center)
    # …and remembered for a few seconds, so a crowd of guests doesn't retry it one by one.
    with pytest.raises(errors.AuthError):
        catalog.services(center)
    assert fake.calls["services"] == 1


def test_pointing_the_center_elsewhere_starts_from_an_empty_catalog(center, fake):
    catalog.services(center)
    center.zenoti_center_id = "3fa85f64-5717-4562-b3fc-2c963f66afa0"
    catalog.services(center)
    assert fake.calls["services"] == 2


@pytest.fixture(params=["locmem", "database"])
def shared_cache(request, settings):
    """The locmem cache anywhere; the database cache (shared by processes) on PostgreSQL,
    where threads may write it concurrently (SQLite's in-memory test database locks)."""
    if request.param == "database":
        if connection.vendor != "postgresql":
            pytest.skip("concurrent writers need PostgreSQL (the test SQLite is in memory)")
        return
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }


def test_concurrent_misses_make_one_upstream_call(center, shared_cache, monkeypatch):
    fake = FakeZenoti(delay=0.3)
    transport = httpx.MockTransport(fake)
    # No budget and no call log here: the threads touch nothing but the cache.
    monkeypatch.setattr(
        catalog,
        "client_for",
        lambda center, priority: ZenotiClient(
            center.api_base_url, center.api_key, transport=transport
        ),
    )
    results, failures = [], []
    start = threading.Barrier(12)

    def guest_page():
        try:
            start.wait()
            results.append(len(catalog.services(center)))
        except Exception as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guest_page) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert results == [3] * 12
    assert fake.calls["services"] == 1


def test_refresh_reloads_services_and_every_services_therapists(center, fake):
    catalog.services(center)
    assert catalog.refresh_center_catalog(center.pk) == "3 services"
    assert fake.calls == Counter(services=2, therapists=3)
    calls = ZenotiCall.objects.filter(organization=center.organization)
    assert calls.count() == 5 and not calls.exclude(outcome="ok").exists()


def test_refresh_yields_to_guests_when_the_budget_is_down_to_the_reserve(center, fake, settings):
    settings.ZENOTI_BACKGROUND_RESERVE = 10
    budget = services.budget_for(center)
    while budget.state().tokens >= 11:
        budget.acquire()
    assert catalog.refresh_center_catalog(center.pk) == "paused"
    assert fake.calls["services"] == 0
    assert ZenotiCall.objects.get().outcome == "budget"
    # A guest still gets through: the reserve is theirs.
    assert len(catalog.services(center)) == 3


def test_refresh_stops_at_the_first_refusal_and_keeps_the_stale_copy(center, fake, settings):
    settings.ZENOTI_BACKGROUND_RESERVE = 10
    catalog.services(center)
    budget = services.budget_for(center)
    while budget.state().tokens >= 11:
        budget.acquire()
    assert catalog.refresh_center_catalog(center.pk) == "paused"
    assert ZenotiCall.objects.filter(outcome="budget").count() == 1  # no therapist calls tried
    assert len(catalog.services(center)) == 3  # guests still get the menu
    assert fake.calls["services"] == 1


def test_a_failed_refresh_reports_it_and_keeps_the_stale_copy(center, fake):
    catalog.services(center)
    fake.refuse = True
    assert catalog.refresh_center_catalog(center.pk) == "failed"
    assert len(catalog.services(center)) == 3


def test_refresh_skips_disabled_and_deleted_centers(center, fake):
    center.enabled = False
    center.save()
    assert catalog.refresh_center_catalog(center.pk) == "gone"
    assert catalog.refresh_center_catalog(999999) == "gone"
    assert fake.calls["services"] == 0


def test_a_copy_stored_while_we_waited_for_the_lock_is_used_without_loading(
    center, fake, monkeypatch
):
    catalog.services(center)  # the copy another process just stored
    assert fake.calls["services"] == 1
    real_get = catalog.cache.get
    misses = iter([True])

    def first_read_misses(key, *args, **kwargs):
        # Our first look happened just before the other process stored its copy.
        if not key.endswith((":lock", ":failed")) and next(misses, False):
            return None
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(catalog.cache, "get", first_read_misses)
    assert len(catalog.services(center)) == 3
    assert fake.calls["services"] == 1
