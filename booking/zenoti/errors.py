"""One exception hierarchy for everything that can go wrong talking to Zenoti.

Every error carries a `.message` in plain words an owner can act on; `.status` is the HTTP
status (None when no answer came back), `.code` Zenoti's application error code, and
`.retry_after` the seconds to wait before trying again, when known.
"""


class ZenotiError(Exception):
    default_message = "Zenoti returned an error."

    def __init__(self, message=None, *, status=None, code=None, retry_after=None):
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        super().__init__(self.message)

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, retry_after={self.retry_after!r})"
        )


class AuthError(ZenotiError):
    """Zenoti refused the API key (401), or the key has no access to this center (403, 438)."""

    default_message = "Zenoti refused the API key: check it on the center page."


class NotFoundError(ZenotiError):
    """Unknown center, booking, invoice, … (404, or Zenoti's code 502 "invalid/not found")."""

    default_message = (
        "Zenoti couldn't find what was asked for: check the center ID on the center page."
    )


class ValidationError(ZenotiError):
    """Zenoti refused the request itself: missing input (503), bad page size (422), invoice
    already paid (460) or closed (728), and any other business error."""

    default_message = "Zenoti refused the request."


class RateLimitedError(ZenotiError):
    """Zenoti answered 429: the organization's call budget is spent for now."""

    default_message = "Zenoti's rate limit was reached: try again in a minute."


class BudgetExhaustedError(RateLimitedError):
    """Our own shared budget said no before calling (nothing was sent to Zenoti)."""

    default_message = "Too many calls to Zenoti right now: try again in a minute."


class SlotUnavailableError(ZenotiError):
    """The time was taken by someone else, or the hold lapsed (4072, is_reserved false)."""

    default_message = "That time is no longer available: please pick another time."


class UpstreamUnavailableError(ZenotiError):
    """Zenoti is down or answered something unusable: 5xx, an HTML page from a proxy, a body
    that isn't JSON or misses required fields, or the connection failed (DNS, TLS, refused)."""

    default_message = "Zenoti is unavailable right now: try again in a few minutes."


class ZenotiTimeoutError(ZenotiError):
    """No answer in time (connect or read timeout, or the overall deadline ran out)."""

    default_message = "Zenoti didn't answer in time: it may be slow or down, try again in a minute."
