"""Fixtures of the Zenoti client tests (the doubles live in doubles.py)."""

import httpx
import pytest

from booking.zenoti import Budget, ZenotiClient

from .doubles import API_KEY, BASE_URL, FakeClock, FakeStore


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    return FakeStore(clock)


@pytest.fixture
def calls():
    return []


@pytest.fixture
def make_client(clock, calls):
    """make_client(handler, **options): a ZenotiClient on a MockTransport and the fake clock,
    recording every CallRecord in `calls`."""
    made = []

    def _make(handler, **options):
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock.time)
        options.setdefault("on_call", calls.append)
        client = ZenotiClient(
            options.pop("base_url", BASE_URL),
            options.pop("api_key", API_KEY),
            transport=httpx.MockTransport(handler),
            **options,
        )
        made.append(client)
        return client

    yield _make
    for client in made:
        client.close()


@pytest.fixture
def make_budget(clock, store):
    def _make(**options):
        options.setdefault("clock", clock.time)
        options.setdefault("sleep", clock.sleep)
        return Budget(
            options.pop("store", store), options.pop("key", "zenoti-budget:test"), **options
        )

    return _make


@pytest.fixture
def demo_sandbox(db):
    """The sandbox's demo organizations, healthy; returns "lumen"."""
    from sandbox.demo import load_demo

    return load_demo()["lumen"]


@pytest.fixture
def sandbox_client(demo_sandbox, clock, calls):
    """sandbox_client(key=LUMEN_KEY, **options): a ZenotiClient onto the in-process sandbox.
    Retries don't really wait (the fake clock's sleep), the sandbox keeps real time."""
    from sandbox.testing import BASE_URL as SANDBOX_URL
    from sandbox.testing import LUMEN_KEY, SandboxTransport

    made = []

    def _make(key=LUMEN_KEY, **options):
        options.setdefault("sleep", clock.sleep)
        options.setdefault("on_call", calls.append)
        client = ZenotiClient(SANDBOX_URL, key, transport=SandboxTransport(), **options)
        made.append(client)
        return client

    yield _make
    for client in made:
        client.close()
