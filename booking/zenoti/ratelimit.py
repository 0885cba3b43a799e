"""A rate-limit budget shared by every process that calls one Zenoti organization.

Zenoti limits calls with a token bucket per organization (by default 60 calls refilled over
60 s, bucket size 60). Budget mirrors that bucket in a shared store, so web and worker
processes together stay under the limit instead of discovering it through 429s. The store is
anything with Django's cache methods `add/get/set/delete` (Redis or the database cache in
production, a dict in tests); this module imports nothing from Django.

- Before each HTTP attempt the client calls `acquire()`, which takes a token or waits for one
  (interactive callers, up to their deadline). Background callers are refused at once with
  BudgetExhaustedError when fewer than `background_reserve` tokens would remain, so refreshes
  never eat the tokens a guest booking needs.
- After each answer the client calls `observe()`: `Organization-RateLimit-Limit` teaches the
  limit, window and burst; `RateLimit-Remaining` lowers our count when Zenoti counted more calls
  than we did (other apps on the same organization, a lost state); after a 429 everything pauses
  until `Retry-After` has passed.

The state is one small dict under `key`; read-modify-write happens under a lock taken with
`store.add(lock_key, …, timeout=LOCK_TIMEOUT)` (atomic in Redis and the database cache). The
lock expires by itself, so a process that dies while holding it blocks others for at most
LOCK_TIMEOUT seconds. Clock: wall time (time.time), so processes on one machine or on
NTP-synced machines agree.
"""

import hashlib
import logging
import math
import random
import re
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from .errors import BudgetExhaustedError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 60  # calls …
DEFAULT_WINDOW = 60.0  # … refilled over this many seconds
DEFAULT_BURST = 60  # bucket size
LOCK_TIMEOUT = 2  # seconds; whole seconds, since Redis rounds cache timeouts down
LOCK_WAIT = 3.0  # give up waiting for the lock after this (longer than LOCK_TIMEOUT)
STATE_TIMEOUT = 24 * 60 * 60  # forget an unused budget after a day (it starts full again)
# One token is never spent. Our count is debited when a call leaves and Zenoti's when it
# arrives; when both buckets sit at their cap, that head start lets ours refill up to
# latency × rate ahead of Zenoti's. The spare token absorbs that (and Zenoti rounding
# RateLimit-Remaining down) at the cost of one call of burst, none of throughput.
SAFETY_MARGIN = 1.0


def budget_key(base_url, api_key):
    """The store key of the budget for one set of credentials; the key itself never appears."""
    digest = hashlib.sha256(f"{base_url.rstrip('/').lower()}\n{api_key}".encode()).hexdigest()
    return f"zenoti-budget:{digest[:40]}"


@dataclass(frozen=True, slots=True)
class BudgetState:
    tokens: float  # calls that may be made right now
    limit: int
    window: float
    burst: int
    paused_for: float  # seconds left of a pause after a 429 (0 when not paused)


_LIMIT_RE = re.compile(r"^\s*(\d+)")
_PARAM_RE = re.compile(r"\b([wb])\s*=\s*(\d+(?:\.\d+)?)")


def parse_limit_header(value):
    """`60;w=60;b=60` → (60, 60.0, 60); None when unreadable. The window and burst default to
    Zenoti's documented 60 s and the limit."""
    if not value:
        return None
    match = _LIMIT_RE.match(value)
    if not match or int(match.group(1)) <= 0:
        return None
    limit = int(match.group(1))
    params = dict(_PARAM_RE.findall(value))
    window = float(params.get("w", DEFAULT_WINDOW)) or DEFAULT_WINDOW
    burst = int(float(params.get("b", limit))) or limit
    return limit, window, burst


def _valid(state):
    keys = ("tokens", "at", "limit", "window", "burst", "paused_until")
    return (
        isinstance(state, dict)
        and all(isinstance(state.get(k), int | float) for k in keys)
        and state["limit"] > 0
        and state["window"] > 0
    )


# No header may pause every process for longer than this (a proxy's "Retry-After: 86400",
# a far-off date): past it, the next call simply asks Zenoti again.
MAX_WAIT_HINT = 300.0


def _number(value):
    """A finite, non-negative number from a header value, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Budget:
    def __init__(self, store, key, *, background_reserve=10, clock=time.time, sleep=time.sleep):
        self.store = store
        self.key = key
        self.lock_key = f"{key}:lock"
        self.background_reserve = background_reserve
        self.clock = clock
        self.sleep = sleep

    # --- state ---------------------------------------------------------------------------

    def _load(self, now):
        state = self._safe(self.store.get, self.key)
        if not _valid(state):
            state = {
                "tokens": float(DEFAULT_BURST),
                "at": now,
                "limit": DEFAULT_LIMIT,
                "window": DEFAULT_WINDOW,
                "burst": DEFAULT_BURST,
                "paused_until": 0.0,
            }
        # Refill for the time elapsed since the last write.
        rate = state["limit"] / state["window"]
        elapsed = max(0.0, now - state["at"])
        state["tokens"] = min(float(state["burst"]), state["tokens"] + elapsed * rate)
        state["at"] = now
        return state

    def _save(self, state):
        self._safe(self.store.set, self.key, state, timeout=STATE_TIMEOUT)

    def _safe(self, method, *args, **kwargs):
        # A broken store must not break bookings: fail open; Zenoti's own limit still holds.
        try:
            return method(*args, **kwargs)
        except Exception:
            logger.warning("Zenoti budget store failed on %s", method.__name__, exc_info=True)
            return None

    def _lock(self):
        token = uuid.uuid4().hex
        give_up = self.clock() + LOCK_WAIT
        while True:
            try:
                if self.store.add(self.lock_key, token, timeout=LOCK_TIMEOUT):
                    return token
            except Exception:
                logger.warning("Zenoti budget store failed on add", exc_info=True)
                return None  # fail open at once, rather than wait for a lock that can't come
            if self.clock() >= give_up:
                # Held far longer than a critical section takes: the store is struggling.
                logger.warning("Zenoti budget lock %s not acquired; going on without it", self.key)
                return None
            self.sleep(random.uniform(0.002, 0.01))  # noqa: S311 (jitter, not crypto)

    def _unlock(self, token):
        # Only delete our own lock: if we stalled past LOCK_TIMEOUT, someone else holds it now.
        if token and self._safe(self.store.get, self.lock_key) == token:
            self._safe(self.store.delete, self.lock_key)

    def state(self):
        """The budget as it stands now, for health pages (no lock, read only)."""
        now = self.clock()
        state = self._load(now)
        return BudgetState(
            tokens=state["tokens"],
            limit=state["limit"],
            window=state["window"],
            burst=state["burst"],
            paused_for=max(0.0, state["paused_until"] - now),
        )

    # --- the two operations the client uses ----------------------------------------------

    def acquire(self, *, priority="interactive", max_wait=0.0):
        """Take one token. Interactive callers wait up to `max_wait` seconds for one; background
        callers never wait and are refused while fewer than `background_reserve` tokens would
        remain. Raises BudgetExhaustedError (with `.retry_after`) when refused."""
        background = priority == "background"
        give_up = self.clock() + max_wait
        while True:
            token = self._lock()
            try:
                now = self.clock()
                state = self._load(now)
                rate = state["limit"] / state["window"]
                need = 1.0 + SAFETY_MARGIN + (self.background_reserve if background else 0)
                if now < state["paused_until"]:
                    wait = state["paused_until"] - now
                elif state["tokens"] >= need:
                    state["tokens"] -= 1.0
                    self._save(state)
                    return
                else:
                    wait = (need - state["tokens"]) / rate
            finally:
                self._unlock(token)
            if background:
                raise BudgetExhaustedError(
                    "Background Zenoti calls are paused to keep the rate limit for guests; "
                    f"they resume in about {wait:.0f} seconds.",
                    retry_after=wait,
                )
            if now + wait > give_up:
                raise BudgetExhaustedError(
                    "Too many calls to Zenoti right now (its rate limit is nearly used up): "
                    f"try again in about {max(1, round(wait))} seconds.",
                    retry_after=wait,
                )
            self.sleep(wait)

    def observe(self, headers, status):
        """Learn from an answer's rate-limit headers (a mapping with case-insensitive keys,
        such as httpx.Headers)."""
        learned = parse_limit_header(headers.get("Organization-RateLimit-Limit"))
        remaining = _number(headers.get("RateLimit-Remaining"))
        retry_after = parse_retry_after(headers.get("Retry-After"), self.clock())
        if status == 429 and retry_after is None:
            # RateLimit-Reset is the time until the bucket is full again (IETF semantics, as the
            # sandbox sends it): longer than needed, but the safe reading when Retry-After is
            # missing. It is not used otherwise: RateLimit-Remaining says more, more precisely.
            retry_after = wait_hint(headers.get("RateLimit-Reset"))
        if status != 429:
            retry_after = None

        # Most answers change nothing (our count is already at or below Zenoti's): check
        # without the lock first, so the lock is only taken for real corrections.
        now = self.clock()
        current = self._load(now)
        if not self._needs_update(current, learned, remaining, retry_after):
            return
        token = self._lock()
        try:
            now = self.clock()
            state = self._load(now)
            if learned:
                # A smaller bucket than assumed: shift the count down rather than cap it, so
                # the calls already granted (and maybe still in flight) stay counted.
                shrink = max(0, state["burst"] - learned[2])
                state["limit"], state["window"], state["burst"] = learned
                state["tokens"] = min(state["tokens"] - shrink, float(state["burst"]))
            if remaining is not None:
                # Only ever lower the count: calls we already granted may still be on their
                # way to Zenoti, and Zenoti's figure doesn't include them yet.
                state["tokens"] = min(state["tokens"], remaining)
            if retry_after is not None:
                if remaining is None:
                    state["tokens"] = 0.0
                state["paused_until"] = max(state["paused_until"], now + retry_after)
            self._save(state)
        finally:
            self._unlock(token)

    @staticmethod
    def _needs_update(state, learned, remaining, retry_after):
        if retry_after is not None:
            return True
        if learned and learned != (state["limit"], state["window"], state["burst"]):
            return True
        # Zenoti sends whole tokens (rounded down): only a whole token of difference counts,
        # which is exactly the case where we would grant a call Zenoti would refuse.
        return remaining is not None and remaining < math.floor(state["tokens"])


def parse_retry_after(value, now):
    """Retry-After as seconds to wait (at most MAX_WAIT_HINT): a number of seconds or an HTTP
    date. None if absent or unreadable."""
    if value is None:
        return None
    seconds = _number(value.strip()) if isinstance(value, str) else _number(value)
    if seconds is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        seconds = max(0.0, when.timestamp() - now)
    return min(seconds, MAX_WAIT_HINT)


def wait_hint(value):
    """A RateLimit-Reset-style number of seconds, at most MAX_WAIT_HINT; None if unreadable."""
    seconds = _number(value)
    return None if seconds is None else min(seconds, MAX_WAIT_HINT)
