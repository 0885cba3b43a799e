"""The availability engine: when is a therapist free for a service, from weekly shifts, days
off, the center's opening hours and slot interval, the service's duration and recovery time,
appointments and live holds.

`Availability` loads what it needs for a range of days in a few queries, then answers in
memory. Start times are naive center-local datetimes, like the API's.
"""

from collections import defaultdict
from datetime import datetime, time, timedelta

from sandbox.models import Appointment, Booking, DayOff, Shift, Therapist

HOLD_MINUTES = 10  # Zenoti's web store holds a reserved slot for about ten minutes


def candidates(booking, *, lock=False):
    """The therapists who may take `booking`: the one asked for, or anyone at the center who
    performs the service, in the order "anyone" bookings try them. `lock` takes row locks
    (select_for_update) so concurrent reserves and confirms on a therapist queue up."""
    if booking.therapist_id:
        rows = Therapist.objects.filter(pk=booking.therapist_id)
    else:
        rows = Therapist.objects.filter(center=booking.center, services=booking.service)
    if lock:
        # Lock in primary-key order everywhere, so two transactions never wait on each other.
        list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
    return list(rows.order_by("first_name", "last_name", "pk"))


class Availability:
    def __init__(self, center, service, therapists, first_day, last_day, now, *, ignore=None):
        """Free time of `therapists` at `center` for `service` from `first_day` to `last_day`
        as seen at `now`; `ignore` is a booking whose own hold does not count as busy."""
        self.center = center
        self.now = now
        self.therapists = list(therapists)
        self.duration = timedelta(minutes=service.duration)
        self.blocks = timedelta(minutes=service.duration + service.recovery_time)
        self.step = timedelta(minutes=center.slot_interval_minutes)
        self.hours = {h.weekday: (h.opens, h.closes) for h in center.hours.all()}
        ids = [t.pk for t in self.therapists]
        self.shifts = {
            (s.therapist_id, s.weekday): (s.starts, s.ends)
            for s in Shift.objects.filter(therapist_id__in=ids)
        }
        self.days_off = set(
            DayOff.objects.filter(
                therapist_id__in=ids, date__range=(first_day, last_day)
            ).values_list("therapist_id", "date")
        )
        begin = center.aware(datetime.combine(first_day, time.min))
        # A day's last service may run past midnight into the next day's busy time.
        end = center.aware(datetime.combine(last_day + timedelta(days=2), time.min))
        self.busy = defaultdict(list)
        appointments = (
            Appointment.objects.filter(therapist_id__in=ids, start__lt=end, blocked_until__gt=begin)
            .exclude(status=Appointment.Status.CANCELLED)
            .values_list("therapist_id", "start", "blocked_until")
        )
        holds = Booking.objects.filter(
            hold_therapist_id__in=ids,
            hold_expires_at__gt=now,
            confirmed_at=None,
            hold_start__lt=end,
            hold_end__gt=begin,
        )
        if ignore is not None:
            holds = holds.exclude(pk=ignore.pk)
        for therapist_id, start, stop in [
            *appointments,
            *holds.values_list("hold_therapist_id", "hold_start", "hold_end"),
        ]:
            self.busy[therapist_id].append((start, stop))

    def grid(self, day):
        """Start times on the center's slot interval at which the service fits the opening hours."""
        hours = self.hours.get(day.weekday())
        if hours is None:
            return []
        start, closes = datetime.combine(day, hours[0]), datetime.combine(day, hours[1])
        times = []
        while start + self.duration <= closes:
            times.append(start)
            start += self.step
        return times

    def is_free(self, therapist, start):
        day = start.date()
        shift = self.shifts.get((therapist.pk, day.weekday()))
        if shift is None or (therapist.pk, day) in self.days_off:
            return False
        if not (
            datetime.combine(day, shift[0]) <= start
            and start + self.duration <= datetime.combine(day, shift[1])
        ):
            return False
        begins = self.center.aware(start)
        blocked_until = self.center.aware(start + self.blocks)
        if begins <= self.now:
            return False
        return not any(
            busy_start < blocked_until and begins < busy_end
            for busy_start, busy_end in self.busy[therapist.pk]
        )

    def free_therapist(self, start):
        """The first candidate free at `start` (on the grid), or None."""
        if start not in self.grid(start.date()):
            return None
        return self._first_free(start)

    def _first_free(self, start):
        return next((t for t in self.therapists if self.is_free(t, start)), None)

    def slots(self, day):
        """[(start, available)] for every grid time of `day`."""
        return [(start, self._first_free(start) is not None) for start in self.grid(day)]

    def has_slot(self, day):
        return any(available for _, available in self.slots(day))
