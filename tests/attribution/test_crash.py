"""At-least-once delivery under crashes: a real `manage.py qcluster` delivering webhooks to a
local receiver is SIGKILLed (its whole process group) again and again, mid-delivery; a last
clean run, with the sweeper, still gets every event to the receiver, each under its own
webhook-id and signed so that `standardwebhooks` verifies it.

PostgreSQL only: the cluster is another process and SQLite's test database lives in this
process's memory."""

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from attribution import delivery, outbox
from attribution.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent

from .receiver import Receiver, verify

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 30
KILLS = 4
# The receiver takes this long to answer, so a kill lands while requests are in flight.
RECEIVER_SECONDS = 0.15


def _cluster_env():
    db = connection.settings_dict
    auth = f"{db['USER']}@" if db["USER"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    env = {k: v for k, v in os.environ.items() if k != "Q_SYNC"}
    env.update(
        DATABASE_URL=f"postgres://{auth}{db['HOST'] or 'localhost'}{port}/{db['NAME']}",
        REDIS_URL="",
        Q_SYNC="0",
        Q_WORKERS="2",
        # django-q hands a task whose worker died to another one after Q_RETRY seconds (180
        # in production); short here, so the test's restarts don't wait for it.
        Q_TIMEOUT="4",
        Q_RETRY="5",
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="1",  # the receiver listens on 127.0.0.1
        LOG_LEVEL="WARNING",
        ENV_FILE=os.devnull,
    )
    if db["PASSWORD"]:
        env["DATABASE_URL"] = env["DATABASE_URL"].replace("@", f":{db['PASSWORD']}@", 1)
    return env


def _start_cluster():
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=_cluster_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes every worker with it
    )


def _wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def receiver():
    def slow_ok(request):
        time.sleep(RECEIVER_SECONDS)
        return 200, {}, b"ok"

    server = Receiver()
    server.reply = slow_ok
    # A killed sender leaves the answer with nowhere to go (a broken pipe): expected here.
    server.server.handle_error = lambda request, address: None
    yield server
    server.close()


def test_every_event_arrives_although_the_cluster_is_killed_again_and_again(
    org, receiver, monkeypatch
):
    # Jobs go through the ORM broker to the cluster, not inline as elsewhere in the suite.
    monkeypatch.setattr(Conf, "SYNC", False)
    endpoint = WebhookEndpoint.objects.create(
        organization=org, url=receiver.url, event_types=["booking_completed"]
    )
    for n in range(EVENTS):
        with transaction.atomic():  # as the funnel does: the event commits with its cause
            outbox.emit_payload(org, "booking_completed", {"type": "booking_completed", "n": n})
    events = set(WebhookEvent.objects.values_list("public_id", flat=True))
    assert len(events) == EVENTS

    outputs = []
    for _ in range(KILLS):
        before = len(receiver.requests)
        cluster = _start_cluster()
        # Kill it once it is delivering (a request arrived), a moment later.
        _wait_for(lambda before=before: len(receiver.requests) > before, 20)
        time.sleep(random.uniform(0, 0.4))  # noqa: S311
        os.killpg(cluster.pid, signal.SIGKILL)
        outputs.append(cluster.communicate(timeout=10)[0].decode(errors="replace"))

    pending = WebhookDelivery.objects.exclude(state=DeliveryState.SUCCEEDED)
    left = pending.count()
    # Deliveries a killed worker held: sent (or being sent) but never recorded.
    orphaned = pending.filter(claimed_until__isnull=False).count()
    assert left > 0, "the kills left nothing to recover; the test proved nothing"
    assert orphaned > 0, "no kill landed mid-delivery"
    # A dead worker's claim lapses after the HTTP timeout and a margin (a minute): let that
    # minute pass for the held deliveries rather than wait it out.
    pending.filter(claimed_until__isnull=False).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )

    cluster = _start_cluster()
    try:
        # The sweeper, which the cluster's schedule runs every minute, run more often here.
        def all_delivered():
            if not pending.exists():
                return True
            if time.monotonic() - all_delivered.swept > 2:
                async_task("attribution.tasks.sweep_webhooks", sync=False)
                all_delivered.swept = time.monotonic()
            return False

        all_delivered.swept = 0.0
        _wait_for(all_delivered, 40)
    finally:
        os.killpg(cluster.pid, signal.SIGINT)
        outputs.append(cluster.communicate(timeout=30)[0].decode(errors="replace"))

    log = "\n---\n".join(output[-1500:] for output in outputs)
    assert not pending.exists(), log
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == EVENTS
    arrived = [r.headers["webhook-id"] for r in receiver.requests]
    assert set(arrived) == events  # every event at least once, nothing else
    for request in receiver.requests:
        body = verify(endpoint.secret, request.body, request.headers)
        assert body["id"] == request.headers["webhook-id"]
    # Duplicates are allowed (the same webhook-id again), never a second id per event.
    print(  # noqa: T201
        f"{KILLS} kills: {left} deliveries left, {orphaned} held by a killed worker; "
        f"{len(arrived)} requests for {EVENTS} events ({len(arrived) - EVENTS} duplicates)"
    )
    assert delivery.sweep()["enqueued"] == 0
