"""A real `manage.py qcluster` process picks jobs up from the ORM broker and runs them against
the same database: the call-log pruning job, enqueued the way the daily schedule does it.

PostgreSQL only: the cluster is another process and SQLite's test database lives in this
process's memory."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Success
from django_q.tasks import async_task

from booking.models import ZenotiCall

from .conftest import log_call

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _cluster_env():
    db = connection.settings_dict
    auth = f"{db['USER']}@" if db["USER"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    env = {k: v for k, v in os.environ.items() if k != "Q_SYNC"}
    env.update(
        DATABASE_URL=f"postgres://{auth}{db['HOST'] or 'localhost'}{port}/{db['NAME']}",
        REDIS_URL="",
        Q_SYNC="0",
        Q_WORKERS="1",
        ENV_FILE=os.devnull,
    )
    if db["PASSWORD"]:
        env["DATABASE_URL"] = env["DATABASE_URL"].replace("@", f":{db['PASSWORD']}@", 1)
    return env


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_a_real_cluster_runs_the_pruning_job(org):
    old = log_call(org, ago=timedelta(days=30))
    recent = log_call(org, ago=timedelta(hours=1))
    # Enqueued through the ORM broker, as the schedule does; not run inline.
    task_id = async_task("booking.tasks.prune_call_log", sync=False)

    cluster = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=_cluster_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Success.objects.filter(id=task_id).exists():
            time.sleep(0.25)
    finally:
        os.killpg(cluster.pid, signal.SIGINT)  # what Ctrl-C or a supervisor sends
        output = cluster.communicate(timeout=30)[0].decode(errors="replace")

    assert Success.objects.filter(id=task_id).exists(), output[-2000:]
    assert Success.objects.get(id=task_id).result == 1
    assert not ZenotiCall.objects.filter(pk=old.pk).exists()
    assert ZenotiCall.objects.filter(pk=recent.pk).exists()
