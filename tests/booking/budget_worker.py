"""One process of the budget test (tests/booking/test_budget_processes.py): C threads calling
the sandbox over HTTP as fast as their shared budget lets them, until a wall-clock time.

Run as a script; prints one JSON line: the wall times of successful calls and counts of 429s
and budget refusals. The budget lives in Django's default cache, configured from the
environment like any process of the app (DATABASE_URL's database cache, or REDIS_URL)."""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--center-id", required=True)
    parser.add_argument("--callers", type=int, default=3)
    parser.add_argument("--start", type=float, required=True, help="wall time to begin")
    parser.add_argument("--until", type=float, required=True, help="wall time to stop calling")
    parser.add_argument("--calls", type=int, default=10**9, help="at most this many per caller")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.cache import cache

    from booking.zenoti import Budget, ZenotiClient, budget_key, errors

    lock = threading.Lock()
    result = {"ok_times": [], "times_429": [], "refused": 0, "other_errors": []}

    def on_call(record):
        if record.status == 429:
            with lock:
                result["times_429"].append(time.time())

    def caller():
        budget = Budget(cache, budget_key(args.base_url, args.key), background_reserve=0)
        with ZenotiClient(
            args.base_url, args.key, budget=budget, on_call=on_call, deadline=20.0
        ) as client:
            for _ in range(args.calls):
                if time.time() >= args.until:
                    break
                try:
                    client.get_center(args.center_id)
                except errors.BudgetExhaustedError:
                    with lock:
                        result["refused"] += 1
                except errors.ZenotiError as exc:
                    with lock:
                        result["other_errors"].append(repr(exc))
                else:
                    with lock:
                        result["ok_times"].append(time.time())

    time.sleep(max(0.0, args.start - time.time()))
    threads = [threading.Thread(target=caller) for _ in range(args.callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
