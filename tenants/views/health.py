"""Liveness and readiness probes for load balancers and orchestrators."""

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import OrmQ


@require_GET
@never_cache
def healthz(request):
    """The process is up and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache():
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("value written to the cache could not be read back")
    cache.delete(key)


def _job_backlog_seconds():
    """Age of the oldest job waiting for a worker (0 when none is waiting)."""
    now = timezone.now()
    oldest = (
        OrmQ.objects.filter(lock__lte=now).order_by("lock").values_list("lock", flat=True).first()
    )
    return round((now - oldest).total_seconds(), 1) if oldest else 0.0


@require_GET
@never_cache
def readyz(request):
    """Ready to take traffic: the database and cache answer and jobs are not piling up."""
    checks, ready = {}, True
    for name, check in (("database", _check_database), ("cache", _check_cache)):
        started = time.monotonic()
        try:
            check()
        except Exception as exc:
            ready = False
            checks[name] = {"ok": False, "error": type(exc).__name__}
        else:
            checks[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    if checks["database"]["ok"]:
        backlog = _job_backlog_seconds()
        backlog_ok = backlog <= settings.JOB_BACKLOG_WARN_SECONDS
        ready = ready and backlog_ok
        checks["jobs"] = {
            "ok": backlog_ok,
            "backlog_age_seconds": backlog,
            "waiting": OrmQ.objects.count(),
        }
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
