"""Server time per funnel step: concurrent guests booking through the funnel's pages on
gunicorn, against a zero-latency sandbox.

    .venv/bin/python bench/funnel_latency.py                     # 20 guests, 60 s, SQLite
    .venv/bin/python bench/funnel_latency.py --database postgres --cache redis

A throwaway deployment like bench/funnel_calls.py's: the funnel on one gunicorn
(`--workers` × `--threads`, gthread), the Zenoti sandbox on another (its own port, the same
database; fault knobs all 0, rate limit lifted), so the funnel's time excludes the sandbox's
CPU work except where the funnel waits for it. `--guests` guests (threads spread over
`--processes` client processes, keep-alive connections) each run the whole funnel — start →
center (SoHo) → a random service → anyone → a random open day and time in the next four
weeks → details → review → done, no payment — again and again for `--seconds` after a
`--warmup`, with `--think` seconds between pages (0: as fast as they can).

Two times per request, per step (GET shows the page, POST makes the choice and answers 303):
- client: the time to the full response on loopback, measured by the guest (includes waiting
  for a free gunicorn thread, the loopback network and the client's own CPU share);
- server: gunicorn's own time for the request (its access log's %(D)s: from the parsed request
  to the last byte written), excluding the wait for a thread.
details POST (guest + draft + hold) and review POST (confirm) wait for the sandbox; the
sandbox's own time per call (its access log) is shown with them.

Exits 1 when the server p95 of the steps that call no Zenoti misses `--target` ms.
"""

import argparse
import contextlib
import multiprocessing
import os
import random
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from _deploy import free_port, percentile, server, throwaway
from funnel_calls import (
    SOHO_ID,
    FunnelError,
    WebGuest,
    book_on_web,
    center,
    new_guest,
    set_up_tenant,
    step_of,
)

ZENOTI_STEPS = {("details", "POST"), ("review", "POST"), ("paid", "GET")}
MAYBE_ZENOTI = {("time", "GET")}  # an availability cache miss
ORDER = ["start", "center", "service", "provider", "time", "details", "review", "done"]
TARGET_MS = 30


class Stop(Exception):
    """The measuring window is over: the guest stops where it is."""


# --- the guests (client processes) ---------------------------------------------------------


def run_guests(
    site_url, start_url, center_code, days, guests, start, measure_from, until, think, queue
):
    """One client process: `guests` threads, each booking again and again until `until`."""
    lock = threading.Lock()
    requests = []  # (step, method, status, seconds, ended_at)
    counts = defaultdict(int)
    errors = []

    def guest_loop(number):
        import httpx

        rng = random.Random(number)  # noqa: S311
        http = httpx.Client(base_url=site_url, timeout=60)

        def on_request(entry):
            ended = time.time()
            if ended > until:
                raise Stop
            with lock:
                requests.append((*entry, ended))
            if think:
                time.sleep(think * rng.uniform(0.5, 1.5))

        time.sleep(max(0.0, start - time.time()) + rng.uniform(0, 1))
        while time.time() < until:
            guest = WebGuest(site_url, client=http, on_request=on_request)
            try:
                book_on_web(
                    guest,
                    start_url,
                    center_code=center_code,
                    details=new_guest(),
                    day=rng.choice(days),
                    rng=rng,
                )
                taken = sum(
                    1 for step, method, *_ in guest.log if (step, method) == ("time", "POST")
                )
                with lock:
                    counts["booked"] += 1
                    counts["picked again"] += taken - 1
            except Stop:
                with lock:
                    counts["cut off at the end"] += 1
            except (FunnelError, httpx.HTTPError) as exc:
                with lock:
                    counts["failed"] += 1
                    errors.append(repr(exc)[:200])
        http.close()

    cpu = {}

    def cpu_meter(measure_from):
        time.sleep(max(0.0, measure_from - time.time()))
        cpu["from"] = time.process_time()
        time.sleep(max(0.0, until - time.time()))
        cpu["until"] = time.process_time()

    meter = threading.Thread(target=cpu_meter, args=(measure_from,))
    meter.start()
    threads = [threading.Thread(target=guest_loop, args=(n,)) for n in guests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    meter.join()
    queue.put(
        {
            "requests": requests,
            "counts": dict(counts),
            "errors": errors,
            "cpu": cpu["until"] - cpu["from"],
        }
    )


def run_clients(args, site_url, start_url, center_code, days, start, measure_from, until):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    numbers = list(range(args.guests))
    shares = [numbers[i :: args.processes] for i in range(args.processes)]
    workers = [
        context.Process(
            target=run_guests,
            args=(
                site_url,
                start_url,
                center_code,
                days,
                share,
                start,
                measure_from,
                until,
                args.think,
                queue,
            ),
        )
        for share in shares
        if share
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=until - time.time() + 180) for _ in workers]
    for worker in workers:
        worker.join()
    merged = {"requests": [], "counts": defaultdict(int), "errors": [], "cpu": 0.0}
    for result in results:
        merged["cpu"] += result["cpu"]
        merged["requests"] += result["requests"]
        merged["errors"] += result["errors"]
        for key, value in result["counts"].items():
            merged["counts"][key] += value
    return merged


# --- where the CPU went ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(command name, CPU seconds used) of a process and of its children that have ended (so
    a postgres backend that exits mid-run still counts, through the postmaster), from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None, 0.0
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, sum(int(v) for v in fields[11:15]) / TICK


def _children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def machine_busy(seconds=5.0):
    """The share of the machine's CPU time that was busy over the next `seconds`."""

    def ticks():
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values), values[3] + values[4]

    total, idle = ticks()
    time.sleep(seconds)
    total2, idle2 = ticks()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def wait_for_quiet(limit, threshold=0.15):
    """Other work on the machine (a test suite, a browser) would be measured too: wait up to
    `limit` seconds for it to go quiet. Returns the busy share last seen."""
    give_up = time.time() + limit
    while True:
        busy = machine_busy()
        if busy < threshold or time.time() > give_up:
            return busy
        print(f"  the machine is {busy:.0%} busy with other work; waiting…", flush=True)


def cpu_snapshot(groups):
    """CPU seconds so far: each gunicorn (master and workers) of `groups` (name → pid), every
    postgres and redis process, and the whole machine's busy time."""
    seen = {name: sum(_stat(p)[1] for p in [pid, *_children(pid)]) for name, pid in groups.items()}
    for proc in Path("/proc").glob("[0-9]*"):
        name, seconds = _stat(proc.name)
        if name and (name.startswith("postgres") or name.startswith("redis")):
            key = "postgres" if name.startswith("postgres") else "redis"
            seen[key] = seen.get(key, 0.0) + seconds
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(v) for v in cpu]
    seen["machine busy"] = (sum(ticks) - ticks[3] - ticks[4]) / TICK  # minus idle, iowait
    return seen


# --- reading the access logs ---------------------------------------------------------------


def read_log(path, start, end):
    """Access log lines between two offsets: (method, path, status, milliseconds)."""
    with open(path, "rb") as log:
        log.seek(start)
        text = log.read(end - start).decode("utf-8", "replace")
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[3].isdigit():
                yield parts[0], parts[1], int(parts[2]), int(parts[3]) / 1000


def label(method, path):
    parts = [p for p in path.split("/") if p]
    if parts[:1] != ["b"]:
        return None
    if len(parts) == 3:
        return "start"
    if parts[-1] == "paid":
        return "paid"
    return step_of(path) or None


def sandbox_label(path):
    """/sandbox/zenoti/v1/bookings/<id>/slots/reserve → /bookings/{id}/slots/reserve."""
    parts = path.split("/sandbox/zenoti/v1", 1)[-1].split("/")
    return "/".join("{id}" if len(p) >= 32 else p for p in parts)


# --- the report ----------------------------------------------------------------------------


def pct(values):
    return tuple(percentile(values, f) for f in (0.5, 0.95, 0.99))


def fmt(values):
    if not values:
        return f"{'—':>23}"
    return "{:>7.1f} {:>7.1f} {:>7.1f}".format(*pct(values))


def report(args, client, server_rows, sandbox_rows, upstream, seconds, cpu):
    by_client = defaultdict(list)
    for step, method, _status, secs, _ended in client["requests"]:
        by_client[(step, method)].append(secs * 1000)
    by_server = defaultdict(list)
    for method, path, _status, ms in server_rows:
        name = label(method, path)
        if name:
            by_server[(name, method)].append(ms)
    keys = sorted(
        set(by_client) | set(by_server),
        key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1] != "GET"),
    )
    print()
    print(
        f"{args.guests} guests × {args.seconds:.0f} s (think {args.think:g} s), funnel on gunicorn "
        f"{args.workers} workers × {args.threads} threads, sandbox on {args.sandbox_workers} × "
        f"{args.sandbox_threads}; {args.database}, {args.cache} cache; {os.cpu_count()} CPUs"
    )
    counts = client["counts"]
    print(
        f"Bookings completed: {counts.get('booked', 0)} "
        f"({counts.get('booked', 0) / seconds:.1f}/s), time picked again after "
        f"'just taken': {counts.get('picked again', 0)}, failed: {counts.get('failed', 0)}, "
        f"cut off at the end: {counts.get('cut off at the end', 0)}"
    )
    print(f"Requests: {sum(len(v) for v in by_server.values())} ({seconds:.0f} s)")
    print()
    head = f"{'step':<16}{'n':>6}  {'server p50 / p95 / p99 ms':>25}  {'client p50 / p95 / p99 ms':>25}"
    print(head)
    groups = {"pages, no Zenoti": ([], []), "all requests": ([], [])}
    for key in keys:
        mark = " *" if key in ZENOTI_STEPS else " †" if key in MAYBE_ZENOTI else ""
        s_values, c_values = by_server.get(key, []), by_client.get(key, [])
        print(
            f"{key[0] + ' ' + key[1] + mark:<16}{len(s_values):>6}  {fmt(s_values):>25}  {fmt(c_values):>25}"
        )
        for group, (g_server, g_client) in groups.items():
            if group == "all requests" or key not in ZENOTI_STEPS | MAYBE_ZENOTI:
                g_server += s_values
                g_client += c_values
    for group, (g_server, g_client) in groups.items():
        print(f"{group:<16}{len(g_server):>6}  {fmt(g_server):>25}  {fmt(g_client):>25}")
    slots = upstream.get("/bookings/{booking_id}/slots", 0)
    pages = len(by_server.get(("time", "GET"), []))
    print(
        f"† calls Zenoti when the day is not cached: {slots} availability loads (draft + slots) "
        f"for {pages} time pages"
    )
    print("* waits for the sandbox; its own time per call (sandbox gunicorn's access log):")
    by_call = defaultdict(list)
    for method, path, _status, ms in sandbox_rows:
        if "/sandbox/zenoti/v1/" in path:
            by_call[f"{method} {sandbox_label(path)}"].append(ms)
    for call, values in sorted(by_call.items(), key=lambda kv: -len(kv[1])):
        print(f"  {call:<40}{len(values):>6}  {fmt(values):>25}")
    print(f"Upstream calls in the call log: {upstream}")
    cores = os.cpu_count() * seconds
    print(
        "CPU used in the measured window (share of the machine's "
        f"{os.cpu_count()} cores × {seconds:.0f} s): "
        + ", ".join(f"{name} {max(0.0, value) / cores:.0%}" for name, value in cpu.items())
    )
    p95 = percentile(groups["pages, no Zenoti"][0], 0.95)
    print()
    print(
        f"Server p95 of the pages that call no Zenoti: {p95:.1f} ms "
        f"(target ≤ {args.target:g} ms: {'ok' if p95 <= args.target else 'MISSED'})"
    )
    if client["errors"]:
        print("First errors:", *sorted(set(client["errors"]))[:5], sep="\n  ")
    return p95 <= args.target


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--think", type=float, default=0, help="seconds between a guest's pages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--sandbox-workers", type=int, default=1)
    parser.add_argument("--sandbox-threads", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cache", choices=["database", "redis"], default="database")
    parser.add_argument("--target", type=float, default=TARGET_MS)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=600,
        help="seconds to wait at most for other work on the machine to stop",
    )
    args = parser.parse_args()

    busy = wait_for_quiet(args.wait_quiet)
    print(f"The machine was {busy:.0%} busy before the start.", flush=True)
    site_port, sandbox_port = free_port(), free_port()
    site_url = f"http://127.0.0.1:{site_port}"
    sandbox_api_url = f"http://127.0.0.1:{sandbox_port}/sandbox/zenoti/v1"
    print(f"Setting up a throwaway deployment ({args.database}, {args.cache} cache)…", flush=True)
    with throwaway(args.cache, args.database, SITE_URL=site_url) as tmp:
        import zoneinfo

        from django.db.models import Count
        from django.utils import timezone

        from booking.models import ZenotiCall

        widget = set_up_tenant(sandbox_api_url)
        soho = center(SOHO_ID)
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(soho.timezone)).date()
        days = [today + timedelta(days=n) for n in range(1, 29)]
        start_url = f"{site_url}/b/lumen/{widget.code}/?utm_source=bench"
        site_log, sandbox_log = Path(tmp) / "site.log", Path(tmp) / "sandbox.log"
        with (
            server(
                sandbox_port, args.sandbox_workers, args.sandbox_threads, sandbox_log
            ) as sandbox_process,
            server(site_port, args.workers, args.threads, site_log) as site_process,
        ):
            groups = {"funnel gunicorn": site_process.pid, "sandbox gunicorn": sandbox_process.pid}
            began = time.time() + 3 + args.processes * 0.5  # clients import Django
            measure_from = began + args.warmup
            until = measure_from + args.seconds
            offsets = {}

            def mark():
                time.sleep(max(0.0, measure_from - time.time()))
                offsets["site"] = site_log.stat().st_size
                offsets["sandbox"] = sandbox_log.stat().st_size
                offsets["cpu"] = cpu_snapshot(groups)
                offsets["call"] = (
                    ZenotiCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
                )

            def mark_end():
                time.sleep(max(0.0, until - time.time()))
                offsets["site_end"] = site_log.stat().st_size
                offsets["sandbox_end"] = sandbox_log.stat().st_size
                offsets["cpu_end"] = cpu_snapshot(groups)

            marker = threading.Thread(target=mark)
            end_marker = threading.Thread(target=mark_end)
            end_marker.start()
            marker.start()
            print(
                f"{args.guests} guests: {args.warmup:g} s warm-up, then {args.seconds:g} s measured…",
                flush=True,
            )
            client = run_clients(
                args, site_url, start_url, soho.code, days, began, measure_from, until
            )
            marker.join()
            end_marker.join()
            server_rows = list(read_log(site_log, offsets["site"], offsets["site_end"]))
            sandbox_rows = list(read_log(sandbox_log, offsets["sandbox"], offsets["sandbox_end"]))
            upstream = dict(
                ZenotiCall.objects.filter(id__gt=offsets["call"])
                .values_list("path_template")
                .annotate(n=Count("id"))
                .values_list("path_template", "n")
            )
        client["requests"] = [r for r in client["requests"] if r[4] >= measure_from]
        cpu = {k: v - offsets["cpu"].get(k, 0.0) for k, v in offsets["cpu_end"].items()}
        busy = cpu.pop("machine busy")
        cpu["guests (clients)"] = client["cpu"]
        cpu["other processes"] = max(0.0, busy - sum(cpu.values()))
        ok = report(args, client, server_rows, sandbox_rows, upstream, args.seconds, cpu)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
