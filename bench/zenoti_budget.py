"""Zenoti budget bench: N processes × M concurrent callers against the sandbox over HTTP,
sharing one rate-limit budget through the Django cache.

    .venv/bin/python bench/zenoti_budget.py --processes 4 --callers 8 --seconds 60

It builds a throwaway deployment in a temporary directory (its own SQLite database, the demo
sandbox, gunicorn on a free port of 127.0.0.1), then measures two things:

1. Client overhead, uncontended: one caller, the sandbox's limit lifted, `--overhead-calls`
   calls. Overhead = the client's time for a call (budget bookkeeping, httpx, parsing, the
   loopback network, gunicorn) minus the sandbox's own time, reported by the sandbox in a
   `Server-Timing: app;dur=<ms>` header.
2. The shared budget under load: the sandbox at Zenoti's default limit (60 calls per 60 s,
   bucket of 60, starting full), N × M callers calling GET /centers/{id} in a loop for
   `--seconds`. Prints calls made, 429s received from the sandbox, calls our budget refused
   (a caller that would wait past its 20 s deadline), utilisation = calls made / calls the
   bucket allowed (bucket + refill × elapsed), and the overhead per call excluding the time
   spent waiting for a token.

`--cache redis` keeps the budget in Redis (REDIS_URL, else redis://127.0.0.1:6379/15) instead
of the database cache.
"""

import argparse
import multiprocessing
import os
import re
import threading
import time

from _deploy import free_port, percentile, server, throwaway

SOHO_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
KEY = "sandbox-lumen-key"
ZENOTI_LIMIT = (60, 60, 60)  # calls, window seconds, bucket
_SERVER_TIMING = re.compile(r"dur=([0-9.]+)")
LISTS = ("ok", "overhead", "overhead_after_token", "wait", "server", "errors")


def p50_p95(values):
    return f"{percentile(values, 0.5):7.2f} / {percentile(values, 0.95):7.2f} ms"


# --- the measuring side (runs in the worker processes) ---------------------------------------


def _timed_transport():
    """An httpx transport noting, per thread, when the request left and the sandbox's own
    time from Server-Timing."""
    import httpx

    seen = threading.local()

    class Timed(httpx.HTTPTransport):
        def handle_request(self, request):
            seen.sent = time.perf_counter()
            response = super().handle_request(request)
            match = _SERVER_TIMING.search(response.headers.get("Server-Timing", ""))
            seen.server_ms = float(match.group(1)) if match else None
            return response

    return Timed(), seen


def run_callers(base_url, callers, start, until, max_calls, queue):
    """One worker process: `callers` threads calling until `until` (or max_calls each)."""
    import django

    django.setup()
    from django.core.cache import cache

    from booking.zenoti import Budget, ZenotiClient, budget_key, errors

    lock = threading.Lock()
    out = {key: [] for key in LISTS}
    out.update(status_429=0, refused=0)

    def on_call(record):
        if record.status == 429:
            with lock:
                out["status_429"] += 1

    def caller():
        transport, seen = _timed_transport()
        budget = Budget(cache, budget_key(base_url, KEY), background_reserve=0)
        client = ZenotiClient(
            base_url, KEY, budget=budget, transport=transport, on_call=on_call, deadline=20.0
        )
        made = 0
        with client:
            while time.time() < until and made < max_calls:
                seen.sent = seen.server_ms = None
                began = time.perf_counter()
                try:
                    client.get_center(SOHO_ID)
                except errors.BudgetExhaustedError as exc:
                    with lock:
                        out["refused"] += 1
                    # As a real caller would: back off rather than spin on the shared lock.
                    time.sleep(min(exc.retry_after or 1.0, 5.0))
                    continue
                except errors.ZenotiError as exc:
                    with lock:
                        out["errors"].append(repr(exc))
                    continue
                ended = time.perf_counter()
                made += 1
                if seen.server_ms is None:
                    continue
                wait_ms = (seen.sent - began) * 1000
                total_ms = (ended - began) * 1000
                with lock:
                    out["ok"].append(time.time())
                    out["server"].append(seen.server_ms)
                    # Before the send: budget bookkeeping, plus any sleep for a token.
                    out["wait"].append(wait_ms)
                    out["overhead"].append(total_ms - seen.server_ms)
                    out["overhead_after_token"].append(total_ms - seen.server_ms - wait_ms)

    time.sleep(max(0.0, start - time.time()))
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out)


def run_processes(base_url, processes, callers, seconds, max_calls=10**9):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = time.time() + 3 + processes * 0.5  # time for every process to import Django
    until = start + seconds
    workers = [
        context.Process(
            target=run_callers, args=(base_url, callers, start, until, max_calls, queue)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    merged = {key: [] for key in LISTS}
    merged.update(status_429=0, refused=0)
    for result in results:
        for key in LISTS:
            merged[key].extend(result[key])
        merged["status_429"] += result["status_429"]
        merged["refused"] += result["refused"]
    merged["start"] = start
    return merged


# --- the deployment under test ----------------------------------------------------------------


def set_limit(limit, window, burst):
    from sandbox.models import SandboxOrganization

    SandboxOrganization.objects.filter(slug="lumen").update(
        rate_limit=limit,
        rate_window_seconds=window,
        rate_burst=burst,
        bucket_tokens=None,  # full
        bucket_checked_at=None,
    )


def forget_budget(base_url):
    from django.core.cache import cache

    from booking.zenoti import budget_key

    cache.delete(budget_key(base_url, KEY))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--callers", type=int, default=8, help="threads per process")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cache", choices=["database", "redis"], default="database")
    parser.add_argument("--overhead-calls", type=int, default=300)
    parser.add_argument("--server-workers", type=int, default=2)
    args = parser.parse_args()

    print("Setting up a throwaway deployment (SQLite, demo sandbox)…", flush=True)
    with throwaway(args.cache):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}/sandbox/zenoti/v1"
        forget_budget(base_url)

        with server(port, args.server_workers):
            set_limit(10**6, 60, 10**6)
            one = run_processes(base_url, 1, 1, 600, max_calls=args.overhead_calls)
            set_limit(*ZENOTI_LIMIT)
            forget_budget(base_url)
            many = run_processes(base_url, args.processes, args.callers, args.seconds)

    limit, window, burst = ZENOTI_LIMIT
    elapsed = max(many["ok"]) - many["start"] if many["ok"] else args.seconds
    allowed = burst + limit / window * elapsed
    print()
    print(
        f"Cache: {args.cache}; server: gunicorn, {args.server_workers} workers × 8 threads; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"1. Client overhead, one caller, budget uncontended ({len(one['ok'])} calls)")
    print(f"   client time − sandbox time:      {p50_p95(one['overhead'])}  (p50 / p95)")
    print(f"   of which budget bookkeeping:     {p50_p95(one['wait'])}")
    print(f"   sandbox time:                    {p50_p95(one['server'])}")
    print(
        f"2. Shared budget: {args.processes} processes × {args.callers} callers, "
        f"{args.seconds:.0f} s, Zenoti's limit {limit} per {window} s, bucket {burst}"
    )
    print(f"   calls made:                      {len(many['ok'])}")
    print(f"   429s received:                   {many['status_429']}")
    print(f"   refused by our budget (deadline): {many['refused']}")
    print(f"   other errors:                    {len(many['errors'])}")
    print(
        f"   bucket allowed:                  {allowed:.1f} ({burst} + {limit / window:g}/s × {elapsed:.1f} s)"
    )
    print(f"   budget utilisation:              {len(many['ok']) / allowed:.1%}")
    print(f"   overhead after the token:        {p50_p95(many['overhead_after_token'])}")
    print(f"   budget (bookkeeping + waiting):  {p50_p95(many['wait'])}")
    print(f"   sandbox time:                    {p50_p95(many['server'])}")
    if many["errors"]:
        print("   first errors:", *sorted(set(many["errors"]))[:5], sep="\n     ")


if __name__ == "__main__":
    main()
