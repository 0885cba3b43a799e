"""The shared rate-limit budget: a token bucket in a cache-like store, taught by Zenoti's
headers, paused by 429s, keeping a reserve for guests; with a fake store and Django's caches."""

import httpx
import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache

from booking.zenoti import Budget, budget_key, errors
from booking.zenoti.ratelimit import LOCK_TIMEOUT, parse_limit_header, parse_retry_after

from .doubles import API_KEY, FakeStore, Recorder, respond

CENTER = {"center": {"id": "c-1", "name": "Soho"}}


def drain(budget, n, priority="interactive"):
    for _ in range(n):
        budget.acquire(priority=priority, max_wait=0)


def test_a_learned_smaller_bucket_keeps_calls_already_granted_counted(make_budget):
    budget = make_budget()
    drain(budget, 12)  # 12 calls on their way while we still assume 60
    budget.observe(httpx.Headers({"Organization-RateLimit-Limit": "20;w=10;b=20"}), 200)
    assert budget.state().tokens == 8


def test_a_new_budget_starts_full_at_zenotis_default(make_budget):
    state = make_budget().state()
    assert (state.tokens, state.limit, state.window, state.burst, state.paused_for) == (
        60,
        60,
        60,
        60,
        0,
    )


def test_each_acquire_takes_one_token_and_tokens_refill_at_the_rate(make_budget, clock):
    budget = make_budget()
    drain(budget, 59)  # the last token is the safety margin, never spent
    assert budget.state().tokens == 1
    with pytest.raises(errors.BudgetExhaustedError) as caught:
        budget.acquire(max_wait=0)
    assert caught.value.retry_after == pytest.approx(1.0)
    clock.advance(2.5)
    assert budget.state().tokens == pytest.approx(3.5)
    clock.advance(1000)
    assert budget.state().tokens == 60  # never above the burst


def test_interactive_callers_wait_for_a_token_within_their_deadline(make_budget, clock):
    budget = make_budget()
    drain(budget, 59)
    budget.acquire(max_wait=5.0)
    assert sum(clock.sleeps) == pytest.approx(1.0, abs=0.05)


def test_interactive_callers_are_refused_at_once_when_the_wait_exceeds_their_deadline(
    make_budget, clock
):
    budget = make_budget()
    drain(budget, 59)
    budget.observe(httpx.Headers({"Retry-After": "30", "RateLimit-Remaining": "0"}), 429)
    with pytest.raises(errors.BudgetExhaustedError) as caught:
        budget.acquire(max_wait=20.0)
    assert caught.value.retry_after == pytest.approx(30.0)
    assert clock.sleeps == []
    assert "try again in about 30 seconds" in caught.value.message


def test_background_callers_stop_when_only_the_reserve_is_left(make_budget):
    budget = make_budget(background_reserve=10)
    drain(budget, 49, priority="background")
    with pytest.raises(errors.BudgetExhaustedError) as caught:
        budget.acquire(priority="background", max_wait=20.0)
    assert "paused to keep the rate limit for guests" in caught.value.message
    drain(budget, 10)  # guests still get the reserve
    assert budget.state().tokens == pytest.approx(1)


def test_a_429_pauses_everyone_until_retry_after(make_budget, clock):
    budget = make_budget()
    budget.observe(httpx.Headers({"Retry-After": "5", "RateLimit-Remaining": "0"}), 429)
    assert budget.state().paused_for == pytest.approx(5.0)
    with pytest.raises(errors.BudgetExhaustedError):
        budget.acquire(priority="background")
    budget.acquire(max_wait=10.0)  # waits out the pause
    assert sum(clock.sleeps) == pytest.approx(5.0, abs=0.05)


def test_a_429_without_retry_after_pauses_for_ratelimit_reset(make_budget):
    budget = make_budget()
    budget.observe(httpx.Headers({"RateLimit-Reset": "12"}), 429)
    state = budget.state()
    assert state.paused_for == pytest.approx(12.0)
    assert state.tokens == 0  # no RateLimit-Remaining: assume nothing is left


def test_a_forced_429_keeps_the_tokens_zenoti_says_are_left(make_budget):
    budget = make_budget()
    budget.observe(httpx.Headers({"Retry-After": "1", "RateLimit-Remaining": "40"}), 429)
    assert budget.state().tokens == 40


def test_the_limit_window_and_burst_are_learned_from_the_header(make_budget, clock):
    budget = make_budget()
    budget.observe(httpx.Headers({"Organization-RateLimit-Limit": "120;w=60;b=30"}), 200)
    state = budget.state()
    assert (state.limit, state.window, state.burst, state.tokens) == (120, 60, 30, 30)
    drain(budget, 29)
    clock.advance(1)
    assert budget.state().tokens == pytest.approx(3.0)  # 120 per 60 s


def test_remaining_only_ever_lowers_our_count(make_budget):
    budget = make_budget()
    budget.observe(httpx.Headers({"RateLimit-Remaining": "20"}), 200)
    assert budget.state().tokens == 20
    budget.observe(httpx.Headers({"RateLimit-Remaining": "59"}), 200)
    assert budget.state().tokens == 20


def test_an_answer_that_changes_nothing_takes_no_lock(make_budget, store):
    budget = make_budget()
    budget.acquire()
    store.calls.clear()
    budget.observe(
        httpx.Headers(
            {"Organization-RateLimit-Limit": "60;w=60;b=60", "RateLimit-Remaining": "59"}
        ),
        200,
    )
    assert [name for name, _ in store.calls] == ["get"]


def test_a_lock_left_by_a_crashed_process_expires(make_budget, store, clock):
    budget = make_budget()
    store.add(budget.lock_key, "crashed-process", timeout=LOCK_TIMEOUT)
    budget.acquire(max_wait=5.0)
    assert sum(clock.sleeps) <= LOCK_TIMEOUT + 0.1
    assert budget.state().tokens == 59


def test_the_lock_is_released_after_each_operation(make_budget, store):
    budget = make_budget()
    budget.acquire()
    budget.observe(httpx.Headers({"RateLimit-Remaining": "3"}), 200)
    assert store.get(budget.lock_key) is None


def test_a_broken_store_fails_open(make_budget, clock):
    class BrokenStore(FakeStore):
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        get = set = delete = add

    budget = make_budget(store=BrokenStore(clock))
    budget.acquire()
    budget.observe(httpx.Headers({"RateLimit-Remaining": "0", "Retry-After": "3"}), 429)
    assert budget.state().tokens == 60
    assert clock.sleeps == []  # no waiting for a lock the store can't give


def test_garbage_in_the_store_is_replaced_by_a_full_budget(make_budget, store):
    budget = make_budget()
    store.set(budget.key, {"tokens": "many"})
    budget.acquire()
    assert budget.state().tokens == 59


@pytest.mark.parametrize(
    "value, expected",
    [
        ("60;w=60;b=60", (60, 60.0, 60)),
        ("100;w=30", (100, 30.0, 100)),
        ("25", (25, 60.0, 25)),
        (" 60 ; w=60 ; b=10 ", (60, 60.0, 10)),
        ("", None),
        ("lots", None),
        ("0;w=60", None),
        (None, None),
    ],
)
def test_parse_limit_header(value, expected):
    assert parse_limit_header(value) == expected


def test_parse_retry_after():
    now = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Fri, 15 Jan 2027 08:00:09 GMT", now) == 9.0
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("-3", now) is None


def test_budget_keys_differ_per_credentials_and_never_contain_the_key():
    key = budget_key("https://api.zenoti.com/v1/", API_KEY)
    assert key == budget_key("https://API.zenoti.com/v1", API_KEY)
    assert key != budget_key("https://api.zenoti.com/v1", "another-key")
    assert API_KEY not in key
    assert len(key) < 200


@pytest.mark.parametrize("backend", ["locmem", "database"])
def test_the_budget_works_on_djangos_caches(backend):
    store = LocMemCache("zenoti-budget-test", {}) if backend == "locmem" else cache
    if backend == "database":
        assert caches["default"].__class__.__name__ == "DatabaseCache"
    budget = Budget(store, budget_key("https://sandbox.test/v1", "k"), background_reserve=10)
    for _ in range(49):
        budget.acquire(priority="background")
    with pytest.raises(errors.BudgetExhaustedError):
        budget.acquire(priority="background")
    budget.observe(httpx.Headers({"RateLimit-Remaining": "5"}), 200)
    assert 5 <= budget.state().tokens < 5.5
    assert store.get(budget.lock_key) is None


# --- the client and the budget together --------------------------------------------------


def test_the_client_takes_a_token_before_every_attempt_including_retries(make_client, make_budget):
    budget = make_budget()
    recorder = Recorder(respond(503, text="down"), respond(body=CENTER))
    make_client(recorder, budget=budget).get_center("c-1")
    assert 58 <= budget.state().tokens <= 58.5  # two tokens, plus the refill while backing off


def test_a_budget_refusal_is_reported_and_nothing_is_sent(make_client, make_budget, calls):
    budget = make_budget(background_reserve=10)
    drain(budget, 50)
    recorder = Recorder(respond(body=CENTER))
    client = make_client(recorder, budget=budget, priority="background")
    with pytest.raises(errors.BudgetExhaustedError):
        client.get_center("c-1")
    assert recorder.requests == []
    [record] = calls
    assert (record.outcome, record.status, record.attempt, record.path_template) == (
        "budget",
        None,
        1,
        "/centers/{center_id}",
    )


def test_an_interactive_client_waits_for_the_budget_within_its_deadline(
    make_client, make_budget, clock
):
    budget = make_budget()
    drain(budget, 59)
    recorder = Recorder(respond(body=CENTER))
    make_client(recorder, budget=budget, deadline=5.0).get_center("c-1")
    assert len(recorder.requests) == 1
    assert sum(clock.sleeps) == pytest.approx(1.0, abs=0.05)


def test_the_client_teaches_the_budget_from_every_answer(make_client, make_budget):
    budget = make_budget()
    headers = {"Organization-RateLimit-Limit": "30;w=60;b=30", "RateLimit-Remaining": "12"}
    make_client(Recorder(respond(body=CENTER, headers=headers)), budget=budget).get_center("c-1")
    state = budget.state()
    assert (state.limit, state.burst, state.tokens) == (30, 30, 12)


def test_a_429_pauses_the_shared_budget_for_every_client(make_client, make_budget, clock):
    budget = make_budget()
    limited = respond(429, {}, headers={"Retry-After": "30", "RateLimit-Remaining": "0"})
    first = make_client(Recorder(limited), budget=budget, deadline=20.0)
    with pytest.raises(errors.RateLimitedError):
        first.get_center("c-1")
    recorder = Recorder(respond(body=CENTER))
    other = make_client(recorder, budget=budget, deadline=20.0)
    with pytest.raises(errors.BudgetExhaustedError):
        other.get_center("c-1")
    assert recorder.requests == []


def test_concurrent_callers_never_take_more_tokens_than_the_bucket_holds():
    import threading

    store = LocMemCache("zenoti-budget-threads", {})
    key = budget_key("https://sandbox.test/v1", "threads")
    Budget(store, key).observe(
        httpx.Headers({"Organization-RateLimit-Limit": "60;w=86400;b=60"}), 200
    )
    granted = []

    def worker():
        budget = Budget(store, key, background_reserve=10)  # one per "process"
        while True:
            try:
                budget.acquire(priority="background")
            except errors.BudgetExhaustedError:
                return
            granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 49  # 60, less the reserve of 10 and the spare token
