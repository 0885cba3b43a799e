"""Zenoti's rate limit, per sandbox organization: a token bucket refilled at
`rate_limit / rate_window_seconds` tokens a second, holding at most `rate_burst` tokens.

The bucket lives on the SandboxOrganization row; callers lock that row (select_for_update)
around `take`, so every process serving the sandbox shares one bucket.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int  # whole tokens left after this request
    reset: int  # seconds until the bucket is full again (0 when full)
    retry_after: int | None  # when refused: seconds until one token is back


def _ceil(seconds):
    # Rounding first keeps float noise (1e-12 tokens short) from adding a whole second.
    return max(0, math.ceil(round(seconds, 6)))


def tokens_now(org, now):
    if org.bucket_tokens is None or org.bucket_checked_at is None:
        return float(org.rate_burst)
    rate = org.rate_limit / org.rate_window_seconds
    elapsed = max(0.0, (now - org.bucket_checked_at).total_seconds())
    return min(float(org.rate_burst), org.bucket_tokens + elapsed * rate)


def take(org, now, *, refuse=False):
    """Spend one token of `org`'s bucket (mutates the instance; the caller saves it).
    `refuse` answers 429 without spending (the forced-429 fault)."""
    rate = org.rate_limit / org.rate_window_seconds
    tokens = tokens_now(org, now)
    allowed = not refuse and tokens >= 1
    if allowed:
        tokens -= 1
    org.bucket_tokens = tokens
    org.bucket_checked_at = now
    return Decision(
        allowed=allowed,
        remaining=int(tokens),
        reset=_ceil((org.rate_burst - tokens) / rate),
        retry_after=None if allowed else max(1, _ceil((1 - tokens) / rate)),
    )


def headers(org, decision):
    """The headers Zenoti sends on every answer. `RateLimit-Reset` is the number of seconds
    until the bucket is full again (IETF RateLimit semantics), not until the next token."""
    values = {
        "Organization-RateLimit-Limit": org.rate_limit_header,
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
    }
    if decision.retry_after is not None:
        values["Retry-After"] = str(decision.retry_after)
    return values
