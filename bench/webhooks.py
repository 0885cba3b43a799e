"""Webhook delivery throughput and latency: events through the transactional outbox, delivered
by a real `manage.py qcluster` to a local receiver.

    .venv/bin/python bench/webhooks.py                          # 10,000 events, PostgreSQL
    .venv/bin/python bench/webhooks.py --rate 40 --events 2000  # paced: latency below capacity
    .venv/bin/python bench/webhooks.py --database sqlite

A throwaway deployment (bench/_deploy.py): its own database, one organization with one
endpoint on 127.0.0.1, `WEBHOOK_ALLOW_PRIVATE_NETWORKS=1`. The receiver is its own process
(a threading HTTP server answering 200 at once, noting each request's webhook-id and arrival
time). The cluster runs `--workers` worker processes on the ORM broker, as in production.

Once a warm-up event has been delivered (the cluster is up), this process emits `--events`
booking_completed events, each in its own committed transaction as the funnel does
(`attribution.outbox.emit_payload`; the payload is a real `booking_payload`, ~2.3 KB), as fast
as it can or at `--rate` per second, while the cluster delivers. It then waits until every
delivery has succeeded.

- throughput: measured events ÷ (last arrival − first event's created_at);
- latency: first arrival of each webhook-id − the event's created_at (both this machine's
  clock), p50 / p95 / max;
- lost: events whose webhook-id never arrived (must be 0); duplicates: extra arrivals.

Exits 1 when an event was lost or a delivery did not succeed.
"""

import argparse
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _deploy import ROOT, free_port, percentile, throwaway
from funnel_latency import TICK, _children, _stat, wait_for_quiet

# --- the receiver (its own process) --------------------------------------------------------


def receive(port, log_path, ready):
    """Answer 200 to every POST, appending "<webhook-id> <arrival time>" to `log_path`."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 — open until the process is killed

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            arrived = time.time()
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            log.write(f"{self.headers.get('webhook-id')} {arrived:.6f}\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def read_arrivals(log_path):
    """webhook-id → (first arrival, requests)."""
    arrivals = {}
    for line in Path(log_path).read_text().splitlines():
        event_id, _, moment = line.partition(" ")
        first, count = arrivals.get(event_id, (float(moment), 0))
        arrivals[event_id] = (first, count + 1)
    return arrivals


# --- CPU accounting ------------------------------------------------------------------------


def tree_cpu(pid):
    """CPU seconds of a process and all its descendants (qcluster: sentinel, pusher,
    workers, monitor)."""
    return _stat(pid)[1] + sum(tree_cpu(child) for child in _children(pid))


def postgres_cpu():
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        name, seconds = _stat(proc.name)
        if name and name.startswith("postgres"):
            total += seconds
    return total


def machine_cpu():
    """Busy CPU seconds of the whole machine (everything but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


def cpu_snapshot(cluster, receiver):
    return {
        "cluster": tree_cpu(cluster.pid),
        "receiver": tree_cpu(receiver.pid),
        "emitter (this process)": _stat(os.getpid())[1],
        "postgres": postgres_cpu(),
        "machine": machine_cpu(),
    }


# --- the deployment ------------------------------------------------------------------------


def sample_payload():
    """A real booking_completed payload (unsaved objects; the organization's name only)."""
    from attribution.payloads import booking_payload
    from booking.models import BookingSession, Widget
    from tenants.models import Center, Organization

    org = Organization(slug="bench-salon", name="Bench Salon")
    touch = {
        "at": "2026-11-20T18:02:11+00:00",
        "landing_url": "https://salon.example/color?utm_source=google&utm_medium=cpc"
        "&utm_campaign=fall_color&gclid=Cj0KCQiA4NWrBhD-ARIsAFCKwWvT3qkR",
        "host_url": "https://salon.example/color",
        "referrer": "https://www.google.com/",
        "params": {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "fall_color",
            "gclid": "Cj0KCQiA4NWrBhD-ARIsAFCKwWvT3qkR",
        },
        "cookies": {"_gcl_aw": "GCL.1763661731.Cj0KCQiA4NWrBhD-ARIsAFCKwWvT3qkR"},
        "source": "google",
        "medium": "cpc",
        "campaign": "fall_color",
        "network": "google",
        "device": "mobile",
        "direct": False,
    }
    session = BookingSession(
        organization=org,
        widget=Widget(organization=org, code="benchweb", name="Website"),
        center=Center(
            organization=org,
            name="Bench SoHo",
            zenoti_center_id="4f1c2d3e-8a7b-4c6d-9e0f-1a2b3c4d5e6f",
            timezone="America/New_York",
        ),
        code="k3v9x2mq7t",
        state="confirmed",
        zenoti_guest_id="a6b1f0c2-5d3e-4f7a-8b9c-0d1e2f3a4b5c",
        zenoti_booking_id="b7c2e1d3-6f4a-4b8c-9d0e-1f2a3b4c5d6e",
        invoice_id="c8d3f2e4-7a5b-4c9d-8e1f-2a3b4c5d6e7f",
        appointment_id="d9e4a3f5-8b6c-4d0e-9f2a-3b4c5d6e7f80",
        service_id="e0f5b4a6-9c7d-4e1f-8a3b-4c5d6e7f8091",
        service_name="Balayage",
        duration_minutes=150,
        therapist_id="f1a6c5b7-0d8e-4f2a-9b4c-5d6e7f8091a2",
        therapist_name="Maya R.",
        starts_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
        price=Decimal("240.00"),
        first_name="Jordan",
        email="jordan.lee@example.com",
        phone="+13105550142",
        marketing_consent=True,
        first_touch=touch,
        last_touch=touch,
        first_touch_at=datetime(2026, 11, 20, 18, 2, 11, tzinfo=UTC),
        confirmed_at=datetime(2026, 11, 24, 14, 37, 2, tzinfo=UTC),
    )
    return booking_payload(session, "booking_completed", now=datetime.now(UTC))


def set_up(receiver_url):
    from attribution.models import WebhookEndpoint
    from tenants.models import Organization

    org = Organization.objects.create(
        name="Bench Salon", slug="bench-salon", timezone="America/New_York"
    )
    WebhookEndpoint.objects.create(
        organization=org, url=receiver_url, event_types=["booking_completed"]
    )
    return org


def emit(org, payload):
    from django.db import transaction

    from attribution import outbox

    with transaction.atomic():
        return outbox.emit_payload(org, "booking_completed", payload)


def start_cluster():
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process, sig=signal.SIGINT):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def wait_delivered(ids, limit, progress=False):
    """Wait until every delivery of these events has succeeded (or `limit` seconds)."""
    from attribution.models import DeliveryState, WebhookDelivery

    deliveries = WebhookDelivery.objects.filter(event_id__in=ids)
    give_up = time.monotonic() + limit
    last_report = time.monotonic()
    while True:
        left = deliveries.exclude(state=DeliveryState.SUCCEEDED).count()
        if not left or time.monotonic() > give_up:
            return left
        if progress and time.monotonic() - last_report > 10:
            print(f"  {len(ids) - left} of {len(ids)} delivered…", flush=True)
            last_report = time.monotonic()
        time.sleep(0.2)


# --- the run -------------------------------------------------------------------------------


def run(args):
    port = free_port()
    extra = {"Q_WORKERS": args.workers, "Q_SYNC": 0, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": 1}
    with throwaway(database=args.database, **extra) as tmp:
        from django.db import connections

        from attribution.models import DeliveryState, WebhookDelivery, WebhookEvent

        log_path = tmp / "arrivals.log"
        connections.close_all()  # not to be inherited by the receiver's process
        ready = multiprocessing.Event()
        receiver = multiprocessing.Process(
            target=receive, args=(port, log_path, ready), daemon=True
        )
        receiver.start()
        ready.wait(10)
        org = set_up(f"http://127.0.0.1:{port}/hooks")
        payload = sample_payload()
        busy = wait_for_quiet(60)
        cluster = start_cluster()
        try:
            warm_up = emit(org, payload)
            if wait_delivered([warm_up.pk], 60):
                raise SystemExit("the cluster delivered nothing within 60 s")

            interval = 1 / args.rate if args.rate else 0
            before = cpu_snapshot(cluster, receiver)
            started = time.monotonic()
            ids = []
            for n in range(args.events):
                if interval:
                    delay = started + n * interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                ids.append(emit(org, payload).pk)
            emitted = time.monotonic() - started
            left = wait_delivered(ids, args.timeout, progress=True)
            after = cpu_snapshot(cluster, receiver)
            wall = time.monotonic() - started
        finally:
            stop(cluster)
            receiver.kill()

        events = dict(
            WebhookEvent.objects.filter(pk__in=ids).values_list("public_id", "created_at")
        )
        not_succeeded = (
            WebhookDelivery.objects.filter(event_id__in=ids)
            .exclude(state=DeliveryState.SUCCEEDED)
            .count()
        )
        cpu = {name: after[name] - before[name] for name in after}
        ok = report(args, events, read_arrivals(log_path), not_succeeded, emitted, wall, cpu, busy)
        if not ok or left:
            raise SystemExit(1)


def report(args, events, arrivals, not_succeeded, emitted, wall, cpu, busy):
    measured = {p: arrivals[p] for p in events if p in arrivals}
    latencies = [
        measured[p][0] - created.timestamp() for p, created in events.items() if p in measured
    ]
    lost = len(events) - len(measured)
    first = min(created.timestamp() for created in events.values())
    span = max(moment for moment, _ in measured.values()) - first
    duplicates = sum(count - 1 for _, count in measured.values())
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    pace = f"{args.rate:g}/s" if args.rate else "as fast as possible"
    cores = os.cpu_count()
    cpu["other work"] = cpu.pop("machine") - sum(cpu.values())
    lines = [
        f"{args.events} events ({pace}); {args.workers} workers; {args.database}; {cores} CPUs; "
        f"other load before the run {busy:.0%}",
        f"emitted in {emitted:.1f} s: {args.events / emitted:.0f} events/s, a transaction each",
        f"delivered {len(measured)} in {span:.1f} s: {len(measured) / span:.1f} deliveries/s",
        f"latency event → receiver: p50 {p50:.3f} s, p95 {p95:.3f} s, max {max(latencies):.3f} s",
        f"lost {lost}; deliveries not succeeded {not_succeeded}; duplicates {duplicates}",
        f"CPU ({wall:.0f} s × {cores} cores): "
        + ", ".join(f"{name} {value / (wall * cores):.0%}" for name, value in cpu.items()),
    ]
    print("\n" + "\n".join(lines))
    return not lost and not not_succeeded


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0, help="events per second (0: flat out)")
    parser.add_argument("--workers", type=int, default=2, help="qcluster worker processes")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for delivery")
    args = parser.parse_args()
    run(args)


if __name__ == "__main__":
    main()
