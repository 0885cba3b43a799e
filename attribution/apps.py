from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def ensure_schedules(using="default", **kwargs):
    """The webhook sweeper's django-q2 schedule, created on every `migrate` if missing and
    then left alone (an operator may tune it in the admin; a deleted one comes back)."""
    from django_q.models import Schedule

    # `migrate attribution` alone on a fresh database may run before django_q's tables exist.
    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    func = "attribution.tasks.sweep_webhooks"
    if not Schedule.objects.using(using).filter(func=func).exists():
        Schedule.objects.using(using).create(
            func=func,
            name="Retry webhook deliveries",
            schedule_type=Schedule.MINUTES,
            minutes=1,
        )


class AttributionConfig(AppConfig):
    name = "attribution"
    verbose_name = "Attribution"

    def ready(self):
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="attribution-schedules")
