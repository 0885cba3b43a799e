"""Several processes (not threads) sharing one rate-limit budget through the Django cache,
calling the sandbox over real HTTP: Zenoti never answers 429, and at least 90% of what its
bucket allowed is used.

The sandbox organization gets a small limit (a bucket of 10, refilled 15 per 5 s) so the test
runs in seconds. One call first teaches the budget that limit (`Organization-RateLimit-Limit`),
as any earlier call teaches a running deployment Zenoti's; until then the budget assumes
Zenoti's documented 60;w=60;b=60. It runs against both shared stores a deployment can have:

- the database cache (the default without REDIS_URL): workers are given the test database's
  URL. Needs PostgreSQL — the SQLite test database lives in this process's memory;
- Redis (REDIS_URL, else redis://127.0.0.1:6379/15): skipped when no Redis answers, except in
  CI (CI=true), where a missing Redis is a failure.

The live server itself also needs PostgreSQL: on SQLite its threads share one in-memory
connection, which cannot serve concurrent transactions (the sandbox locks its bucket row).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from booking.zenoti import budget_key

from .conftest import LUMEN_KEY, SOHO_ID

pytestmark = pytest.mark.django_db(transaction=True)

BURST, LIMIT, WINDOW = 10, 15, 5  # the sandbox organization's bucket, for this test
PROCESSES, CALLERS = 3, 3  # 9 callers: fewer than the bucket, so even the first wave fits
SECONDS = 8
STARTUP = 2.5  # seconds for the workers to import Django (and the buckets to refill)
WORKER = Path(__file__).with_name("budget_worker.py")
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def _database_env():
    db = connection.settings_dict
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return {"DATABASE_URL": f"postgres://{auth}{host}{port}/{db['NAME']}", "REDIS_URL": ""}


def _redis_env(base_url):
    from django.core.cache.backends.redis import RedisCache

    url = os.environ.get("REDIS_URL") or REDIS_TEST_URL
    store = RedisCache(url, {"KEY_PREFIX": "chairfill"})
    try:
        # A budget left by an earlier run on the same port must not skew this one.
        store.delete(budget_key(base_url, LUMEN_KEY))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {url} is not answering ({exc}); CI runs this test")
        pytest.skip(f"no Redis answering at {url} ({exc})")
    return {"REDIS_URL": url}


@pytest.fixture(params=["database", "redis"])
def store_env(request, live_server):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the live server can't share SQLite's in-memory database")
    base_url = f"{live_server.url}/sandbox/zenoti/v1"
    if request.param == "database":
        return _database_env()
    return _redis_env(base_url)


def run_workers(base_url, env, *, processes, callers, start, until, calls=10**9):
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                f"--base-url={base_url}",
                f"--key={LUMEN_KEY}",
                f"--center-id={SOHO_ID}",
                f"--callers={callers}",
                f"--start={start}",
                f"--until={until}",
                f"--calls={calls}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=until - time.time() + 60)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def limit_sandbox(sandbox_org):
    sandbox_org.rate_limit, sandbox_org.rate_window_seconds = LIMIT, WINDOW
    sandbox_org.rate_burst = BURST
    sandbox_org.bucket_tokens = sandbox_org.bucket_checked_at = None  # full
    sandbox_org.save()


def check(results, start):
    ok_times = sorted(t for r in results for t in r["ok_times"])
    times_429 = sorted(round(t - start, 2) for r in results for t in r["times_429"])
    assert times_429 == [], f"429s at these seconds after the start: {times_429}"
    assert [e for r in results for e in r["other_errors"]] == []
    # What the sandbox's bucket allowed from the start (full) to the last successful call.
    allowed = BURST + LIMIT / WINDOW * (ok_times[-1] - start)
    utilisation = len(ok_times) / allowed
    print(f"{len(ok_times)} calls of {allowed:.1f} allowed: {utilisation:.0%}")
    assert utilisation >= 0.9
    assert all(r["ok_times"] for r in results)  # every process got its share


def test_processes_sharing_a_budget_get_no_429_and_use_the_limit(
    live_server, sandbox_lumen, store_env
):
    limit_sandbox(sandbox_lumen)
    base_url = f"{live_server.url}/sandbox/zenoti/v1"
    env = {**os.environ, **store_env}
    # The deployment has talked to this Zenoti before: one call teaches the budget the limit.
    run_workers(base_url, env, processes=1, callers=1, start=0, until=time.time() + 30, calls=1)

    start = time.time() + STARTUP  # both buckets are full again by then
    until = start + SECONDS
    results = run_workers(
        base_url, env, processes=PROCESSES, callers=CALLERS, start=start, until=until
    )
    check(results, start)
