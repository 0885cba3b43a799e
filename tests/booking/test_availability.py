"""booking.availability against the in-process Zenoti sandbox: a day's free times come from a
guest-less draft, are shared by every guest browsing that day for the TTL (one upstream pair
of calls, loaded once), and outlive a Zenoti outage for a while."""

import threading
import time as clock
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from booking import availability, catalog
from booking.models import ZenotiCall
from booking.zenoti import errors
from sandbox import actions
from sandbox import models as sb
from sandbox.testing import set_faults

SERVICE = "Women's Haircut & Style"  # 60 minutes; Ana (Mon–Fri 09–17) and Ben at SoHo


def wednesday():
    """A Wednesday far enough ahead that the demo's appointments and days off are behind."""
    day = timezone.localdate() + timedelta(days=10)
    return day + timedelta(days=(2 - day.weekday()) % 7)


@pytest.fixture
def menu(sandbox_center):
    """(service id, {first name: therapist id}) of the haircut at SoHo, read before counting."""
    service = next(s for s in catalog.services(sandbox_center) if s.name == SERVICE)
    therapists = catalog.therapists(sandbox_center, service.id)
    return service.id, {t.first_name: t.id for t in therapists}


@pytest.fixture
def now(monkeypatch):
    """The cache's clock, moved by hand (now[0] += seconds)."""
    moment = [clock.time()]
    monkeypatch.setattr(catalog, "_now", lambda: moment[0])
    return moment


@pytest.fixture
def fast_failures(settings):
    settings.ZENOTI_DEADLINE = 0.3


def upstream():
    return list(ZenotiCall.objects.order_by("pk").values_list("method", "path_template"))


def test_a_days_free_times_come_from_a_guest_less_draft(sandbox_center, menu):
    service_id, therapists = menu
    day = wednesday()
    before = ZenotiCall.objects.count()
    found = availability.day(sandbox_center, service_id, therapists["Ana"], day)
    assert upstream()[before:] == [("POST", "/bookings"), ("GET", "/bookings/{booking_id}/slots")]
    draft = sb.Booking.objects.get()
    assert draft.guest is None and draft.date == day and draft.therapist.first_name == "Ana"
    # Ana works 09:00–17:00; the haircut takes an hour; times every 15 minutes, center-local.
    assert found.day == day
    assert found.times[0] == datetime.combine(day, time(9, 0))
    assert found.times[-1] == datetime.combine(day, time(16, 0))
    assert len(found.times) == 29 and list(found.times) == sorted(found.times)
    assert all(t.tzinfo is None and t.date() == day for t in found.times)
    assert day in found.open_days and found.next_available_day is None
    assert day + timedelta(days=1) in found.open_days  # Thursday: Ana works


def test_fifty_guests_browsing_the_same_day_cost_two_upstream_calls(sandbox_center, menu):
    service_id, therapists = menu
    before = ZenotiCall.objects.count()
    answers = {
        availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
        for _ in range(50)
    }
    assert len(answers) == 1
    assert ZenotiCall.objects.count() - before == 2


def test_other_days_providers_and_services_are_separate_entries(sandbox_center, menu):
    service_id, therapists = menu
    day = wednesday()
    before = ZenotiCall.objects.count()
    ana = availability.day(sandbox_center, service_id, therapists["Ana"], day)
    ben = availability.day(sandbox_center, service_id, therapists["Ben"], day)
    anyone = availability.day(sandbox_center, service_id, None, day)
    thursday = availability.day(sandbox_center, service_id, therapists["Ana"], day + timedelta(1))
    blowout = next(s for s in catalog.services(sandbox_center) if s.name == "Blowout")
    availability.day(sandbox_center, blowout.id, therapists["Ana"], day)
    assert ZenotiCall.objects.count() - before == 10
    assert ben.times[0] == datetime.combine(day, time(12, 0))  # Ben starts at noon
    assert set(anyone.times) == set(ana.times) | set(ben.times)
    assert thursday.day == day + timedelta(1)
    # …and each is cached on its own.
    availability.day(sandbox_center, service_id, None, day)
    availability.day(sandbox_center, service_id.upper(), therapists["Ben"].upper(), day)
    assert ZenotiCall.objects.count() - before == 10


def test_forget_drops_exactly_that_day(sandbox_center, menu):
    service_id, therapists = menu
    day, ana = wednesday(), therapists["Ana"]
    availability.day(sandbox_center, service_id, ana, day)
    availability.day(sandbox_center, service_id, ana, day + timedelta(1))
    before = ZenotiCall.objects.count()
    availability.forget(sandbox_center, service_id, ana, day)
    availability.day(sandbox_center, service_id, ana, day + timedelta(1))
    assert ZenotiCall.objects.count() == before
    availability.day(sandbox_center, service_id, ana, day)
    assert ZenotiCall.objects.count() == before + 2


def test_forgetting_a_day_shows_a_time_taken_meanwhile(sandbox_center, menu):
    service_id, therapists = menu
    day, ana = wednesday(), therapists["Ana"]
    ten = datetime.combine(day, time(10, 0))
    assert ten in availability.day(sandbox_center, service_id, ana, day).times
    draft = sb.Booking.objects.get()
    actions.steal_slot(draft.organization, draft.pk, ten)
    assert ten in availability.day(sandbox_center, service_id, ana, day).times  # cached
    availability.forget(sandbox_center, service_id, ana, day)
    assert ten not in availability.day(sandbox_center, service_id, ana, day).times


def test_a_day_is_loaded_again_after_the_ttl(sandbox_center, menu, now, settings):
    service_id, therapists = menu
    before = ZenotiCall.objects.count()
    availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
    now[0] += settings.AVAILABILITY_TTL_SECONDS - 1
    availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
    assert ZenotiCall.objects.count() - before == 2
    now[0] += 2
    availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
    assert ZenotiCall.objects.count() - before == 4


def test_a_closed_day_has_no_times_and_points_to_the_next_open_day(sandbox_center, menu):
    service_id, therapists = menu
    monday = wednesday() + timedelta(days=5)  # SoHo is closed on Mondays
    found = availability.day(sandbox_center, service_id, therapists["Ana"], monday)
    assert found.times == ()
    assert found.next_available_day == monday + timedelta(days=1)
    assert monday not in found.open_days and monday + timedelta(days=1) in found.open_days


def test_a_zenoti_outage_serves_the_stale_day_within_its_stale_window(
    sandbox_center, menu, now, settings, fast_failures
):
    service_id, therapists = menu
    day, ana = wednesday(), therapists["Ana"]
    cached = availability.day(sandbox_center, service_id, ana, day)
    set_faults("lumen", error_rate=1.0)
    now[0] += settings.AVAILABILITY_TTL_SECONDS + availability.STALE_SECONDS - 5
    last = ZenotiCall.objects.order_by("pk").last().pk
    assert availability.day(sandbox_center, service_id, ana, day) == cached
    tried = ZenotiCall.objects.filter(pk__gt=last)
    assert tried.exists() and not tried.filter(outcome="ok").exists()  # Zenoti was asked first


def test_a_zenoti_outage_with_nothing_cached_raises(sandbox_center, menu, fast_failures):
    service_id, therapists = menu
    set_faults("lumen", error_rate=1.0)
    with pytest.raises(errors.ZenotiError):
        availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
    # The failure is remembered for a few seconds: the next guest doesn't hammer Zenoti too.
    before = ZenotiCall.objects.count()
    with pytest.raises(errors.ZenotiError):
        availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
    assert ZenotiCall.objects.count() == before


def test_a_rate_limited_zenoti_with_nothing_cached_raises_a_rate_limit_error(
    sandbox_center, menu, fast_failures
):
    service_id, therapists = menu
    set_faults("lumen", rate_limited_rate=1.0)
    with pytest.raises(errors.RateLimitedError):
        availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_fifty_guests_browsing_at_once_cost_two_upstream_calls(sandbox_center, menu):
    service_id, therapists = menu
    before = ZenotiCall.objects.count()
    start = threading.Barrier(50)
    answers, failures = [], []

    def guest():
        try:
            start.wait()
            answers.append(
                availability.day(sandbox_center, service_id, therapists["Ana"], wednesday())
            )
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=guest) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(answers) == 50 and len(set(answers)) == 1
    assert ZenotiCall.objects.count() - before == 2
