"""/healthz says the process is up; /readyz checks the database, the cache and the job backlog."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ


def test_healthz_is_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_check(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["cache"]["ok"]
    assert body["checks"]["jobs"] == {"ok": True, "backlog_age_seconds": 0.0, "waiting": 0}


def test_readyz_is_unavailable_when_jobs_pile_up(client, db, settings):
    settings.JOB_BACKLOG_WARN_SECONDS = 60
    OrmQ.objects.create(key="chairfill", payload="x", lock=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    jobs = response.json()["checks"]["jobs"]
    assert not jobs["ok"]
    assert jobs["backlog_age_seconds"] >= 600
    assert jobs["waiting"] == 1


def test_readyz_is_unavailable_when_the_cache_is_down(client, db, monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == {"ok": False, "error": "ConnectionError"}


def test_every_response_denies_framing_and_carries_a_nonce_csp(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'nonce-" in csp
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
