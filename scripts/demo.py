"""Run the demo: the web server and the job worker together, the URLs printed once the web
server answers, both stopped together on Ctrl-C (or when either one dies).

Each runs in its own process group, so that stopping it also stops what it started (the
autoreloader's child, the cluster's workers)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

host, port = sys.argv[1], sys.argv[2]
base = f"http://{host}:{port}"
python = sys.executable
processes = {
    "web server": subprocess.Popen(  # noqa: S603 (fixed arguments)
        [python, "manage.py", "runserver", f"{host}:{port}"], start_new_session=True
    ),
    "job worker": subprocess.Popen(  # noqa: S603
        [python, "manage.py", "qcluster"], start_new_session=True
    ),
}


def stop_all():
    for process in processes.values():
        signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + 15
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        signal_group(process, signal.SIGKILL)


def signal_group(process, signum):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def wait_until_up():
    for _ in range(120):
        if any(process.poll() is not None for process in processes.values()):
            return False
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 (our own server)
                return True
        except OSError:
            time.sleep(0.5)
    return False


def interrupted(*_):
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, interrupted)
try:
    if wait_until_up():
        print(
            f"""
  Chairfill demo is running (password for every demo user: chairfill-demo)

  Sign in:         {base}/accounts/login/      e.g. owner@lumen.example
  Agency console:  {base}/agency/glow-growth/  as ana@glowgrowth.example
  Booking page:    {base}/b/lumen/lumenweb/
  Example site:    {base}/sandbox/host/?utm_source=google&utm_medium=cpc&gclid=DEMO123
                   (the widget embedded inline and as a popup button)
  Zenoti sandbox:  {base}/sandbox/              appointments, invoices, fault knobs
  Webhooks:        {base}/sandbox/receiver/     signed deliveries, checked with standardwebhooks
  Health:          {base}/readyz

  Ctrl-C stops the web server and the job worker.
""",
            flush=True,
        )
    while all(process.poll() is None for process in processes.values()):
        time.sleep(0.5)
except KeyboardInterrupt:
    stop_all()
    print("\nStopped the web server and the job worker.")
    sys.exit(0)

dead = [name for name, process in processes.items() if process.poll() is not None]
print(f"The {' and '.join(dead)} stopped; stopping the rest.", file=sys.stderr)
stop_all()
sys.exit(1)
