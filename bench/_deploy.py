"""Shared helpers of the benches: a throwaway deployment (its own database, the demo sandbox,
gunicorn on free ports of 127.0.0.1) and percentiles.

    with throwaway(cache="database", database="sqlite") as deployment:
        ...  # Django is set up against the throwaway database

Not a module of the app: the benches import it by name (`import _deploy`), the script's own
directory being on sys.path.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def percentile(values, fraction):
    values = sorted(values)
    if not values:
        return float("nan")
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_environment(workdir, cache, database_url=None, **extra):
    """Environment of the bench and of the gunicorns it starts: production-like settings
    (DEBUG=0) on a throwaway database, the sandbox on. `extra` adds or overrides variables."""
    from cryptography.fernet import Fernet

    env_file = workdir / "empty.env"
    env_file.write_text("")
    os.environ.update(
        {
            "ENV_FILE": str(env_file),  # not the developer's .env
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-" + "x" * 50,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SANDBOX_ENABLED": "1",
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_MANIFEST": "0",
            "LOG_LEVEL": "WARNING",
            # whitenoise looks for STATIC_ROOT, which only `collectstatic` creates.
            "PYTHONWARNINGS": "ignore:No directory at",
            "REDIS_URL": (os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
            if cache == "redis"
            else "",
            **{name: str(value) for name, value in extra.items()},
        }
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def postgres_database():
    """A throwaway PostgreSQL database on 127.0.0.1:5432 (user postgres, trust); its URL."""
    import psycopg

    name = f"chairfill_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django():
    """django.setup(), migrate, the cache table and the sandbox's demo salons."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from sandbox.demo import load_demo

    load_demo()


@contextlib.contextmanager
def throwaway(cache="database", database="sqlite", **extra):
    """A temporary directory, a throwaway database (SQLite in it, or PostgreSQL) and the
    environment pointing at them; Django set up, migrated, the demo sandbox loaded. Yields the
    temporary directory."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chairfill-bench-")))
        url = stack.enter_context(postgres_database()) if database == "postgres" else None
        prepare_environment(tmp, cache, url, **extra)
        setup_django()
        try:
            yield tmp
        finally:
            # Let the database be dropped: close this process's connections first.
            from django.db import connections

            connections.close_all()


@contextlib.contextmanager
def server(port, workers, threads=8, access_log=None):
    """gunicorn (gthread) serving config.wsgi on 127.0.0.1:port until the block ends.
    `access_log`: a file path; each line "<method> <path> <status> <microseconds>" (gunicorn's
    own time for the request, from its parsing to the last byte written)."""
    args = [
        str(Path(sys.executable).with_name("gunicorn")),
        "config.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--log-level=warning",
    ]
    if access_log:
        args += [f"--access-logfile={access_log}", "--access-logformat=%(m)s %(U)s %(s)s %(D)s"]
    process = subprocess.Popen(args, cwd=ROOT, start_new_session=True)  # noqa: S603
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit("gunicorn exited during start-up") from None
                time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
