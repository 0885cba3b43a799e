"""Free times for guests browsing the funnel, from a guest-less Zenoti draft.

One (center, service, provider, day) costs two upstream calls — the draft and its slots — and
the answer is shared by every guest browsing the same day for AVAILABILITY_TTL_SECONDS, loaded
once across processes (booking.catalog.load's single flight). The reservation itself always
asks Zenoti again, so a slightly stale list can only cost a guest a "that time was just taken".
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache

from booking import catalog
from booking.services import client_for

# A stale day is served this much longer when Zenoti is down (then the reservation decides).
STALE_SECONDS = 5 * 60


@dataclass(frozen=True)
class DayAvailability:
    day: date
    times: tuple[datetime, ...]  # free start times, naive center-local
    open_days: frozenset[date]  # later days Zenoti says have a free time
    next_available_day: date | None  # the first later day with a free time, when today is full


def _key(center, service_id, therapist_id, day):
    return catalog.key(
        center, "slots", service_id.lower(), (therapist_id or "any").lower(), day.isoformat()
    )


def day(center, service_id, therapist_id, day):
    """The free times of `day` for the service (with this therapist, or anyone when None)."""

    def load_day():
        with client_for(center) as client:
            booking_id = client.create_booking(
                center.zenoti_center_id, day, service_id, therapist_id=therapist_id or None
            )
            slots = client.get_slots(booking_id)
        times = tuple(sorted(s.time for s in slots.slots if s.available and s.time.date() == day))
        next_day = slots.next_available_day
        open_days = set(slots.future_days)
        if times:
            open_days.add(day)
        return DayAvailability(day, times, frozenset(open_days), next_day)

    return catalog.load(
        _key(center, service_id, therapist_id, day),
        load_day,
        ttl=settings.AVAILABILITY_TTL_SECONDS,
        stale_seconds=STALE_SECONDS,
    )


def forget(center, service_id, therapist_id, day):
    """Drop the cached day (a time on it was just taken), so the next guest sees fresh times."""
    cache.delete(_key(center, service_id, therapist_id, day))
