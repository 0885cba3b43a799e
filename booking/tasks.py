"""Scheduled jobs of the booking app (django-q2): catalog refreshes and call-log retention.

The schedules themselves are created by booking.apps on every `migrate`."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from booking.models import ZenotiCall
from tenants.models import Center

PRUNE_BATCH = 5000


def refresh_catalogs():
    """Every 10 minutes: one job per enabled center, so a slow or failing Zenoti holds up only
    its own center. Returns the number of jobs enqueued."""
    center_ids = list(Center.objects.enabled().order_by("pk").values_list("pk", flat=True))
    for center_id in center_ids:
        async_task(
            "booking.catalog.refresh_center_catalog",
            center_id,
            task_name=f"catalog-refresh-{center_id}",
            group="catalog-refresh",
        )
    return len(center_ids)


def prune_call_log(days=None, batch=PRUNE_BATCH):
    """Daily: delete call-log rows older than ZENOTI_CALL_LOG_DAYS, a batch at a time so no
    single statement holds locks on a large table for long. Returns the number deleted."""
    days = settings.ZENOTI_CALL_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            ZenotiCall.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += ZenotiCall.objects.filter(pk__in=ids).delete()[0]


def sweep_booking_sessions():
    """Every minute: settle booking sessions the guest left (booking.funnel.sweep)."""
    from booking import funnel

    return funnel.sweep()


def send_booking_confirmation(session_id):
    """The guest's confirmation email, once (a re-run after a crash sends nothing twice:
    the row is claimed before sending; a failed send gives the claim back for a retry)."""
    from booking import emails

    return emails.send_confirmation(session_id)
