"""Scheduled jobs: call-log retention, catalog refreshes, and their django-q2 schedules."""

from datetime import timedelta

from django.core.management import call_command
from django_q.models import Schedule

from booking import tasks
from booking.apps import ensure_schedules
from booking.models import ZenotiCall
from tenants.models import Center

from .conftest import log_call


def test_prune_deletes_rows_older_than_the_retention_in_batches(org, center, settings):
    settings.ZENOTI_CALL_LOG_DAYS = 14
    for _ in range(5):
        log_call(org, center, ago=timedelta(days=15))
    kept = [log_call(org, center, ago=timedelta(days=13)), log_call(org, center)]
    assert tasks.prune_call_log(batch=2) == 5
    assert set(ZenotiCall.objects.values_list("pk", flat=True)) == {c.pk for c in kept}


def test_prune_with_nothing_to_delete_is_a_no_op(org, center):
    log_call(org, center)
    assert tasks.prune_call_log() == 0
    assert ZenotiCall.objects.count() == 1


def test_schedules_exist_after_migrate(db):
    schedules = {s.func: s for s in Schedule.objects.all()}
    refresh = schedules["booking.tasks.refresh_catalogs"]
    assert (refresh.schedule_type, refresh.minutes) == (Schedule.MINUTES, 10)
    assert schedules["booking.tasks.prune_call_log"].schedule_type == Schedule.DAILY
    sweeper = schedules["booking.tasks.sweep_booking_sessions"]
    assert (sweeper.schedule_type, sweeper.minutes) == (Schedule.MINUTES, 1)


def test_schedules_are_created_once_and_come_back_when_deleted(db):
    ensure_schedules()
    call_command("migrate", verbosity=0)
    assert Schedule.objects.filter(func="booking.tasks.prune_call_log").count() == 1
    Schedule.objects.filter(func="booking.tasks.prune_call_log").delete()
    ensure_schedules()
    assert Schedule.objects.filter(func="booking.tasks.prune_call_log").count() == 1


def test_an_operators_change_to_a_schedule_is_kept(db):
    Schedule.objects.filter(func="booking.tasks.refresh_catalogs").update(minutes=30)
    ensure_schedules()
    assert Schedule.objects.get(func="booking.tasks.refresh_catalogs").minutes == 30


def test_refresh_catalogs_runs_a_job_per_enabled_center(org, center, monkeypatch):
    refreshed = []
    monkeypatch.setattr(
        "booking.catalog.refresh_center_catalog", lambda center_id: refreshed.append(center_id)
    )
    disabled = Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa9",
        name="Closed",
        timezone="America/New_York",
        api_key="k",
        enabled=False,
    )
    assert tasks.refresh_catalogs() == 1  # Q_SYNC=1 in tests: jobs run at once
    assert refreshed == [center.pk]
    assert disabled.pk not in refreshed
