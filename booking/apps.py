from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def ensure_schedules(using="default", **kwargs):
    """The booking jobs' django-q2 schedules, created on every `migrate` if missing and then
    left alone (an operator may tune them in the admin; a deleted one comes back)."""
    from django_q.models import Schedule

    # `migrate booking` alone on a fresh database may run before django_q's tables exist.
    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    schedules = [
        ("booking.tasks.refresh_catalogs", "Refresh Zenoti catalogs", Schedule.MINUTES, 10),
        ("booking.tasks.prune_call_log", "Prune the Zenoti call log", Schedule.DAILY, None),
        (
            "booking.tasks.sweep_booking_sessions",
            "Settle left booking sessions",
            Schedule.MINUTES,
            1,
        ),
    ]
    for func, name, schedule_type, minutes in schedules:
        if not Schedule.objects.using(using).filter(func=func).exists():
            Schedule.objects.using(using).create(
                func=func, name=name, schedule_type=schedule_type, minutes=minutes
            )


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"

    def ready(self):
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="booking-schedules")
