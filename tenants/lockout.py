"""Login brute-force protection: failed sign-ins are counted in the shared cache per account
and per client address; too many within the window lock that account (or address) out."""

import hashlib
import ipaddress
import math
import time

from django.conf import settings
from django.core.cache import cache

PREFIX = "login-lockout"


def now():
    """The clock the lockout runs on (tests move it forward)."""
    return time.time()


def client_ip(request):
    """The client's address. X-Forwarded-For is only believed as far as our own proxies
    wrote it: with N trusted proxies the client is the N-th entry from the right, and
    anything further left was sent by the client, who can put whatever it likes there."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        # Fewer entries than proxies means the header did not come through all of them:
        # keep the socket address rather than an entry the client may have written.
        if len(forwarded) >= hops:
            address = forwarded[len(forwarded) - hops]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        # One IPv6 client usually holds a whole /64: count it as one address.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _account(email):
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{PREFIX}:account:{digest}"


def _address(ip):
    return f"{PREFIX}:ip:{ip}"


def seconds_locked(email, ip):
    """How long sign-ins for this account or from this address stay refused (0: not locked)."""
    until = cache.get_many([_account(email) + ":until", _address(ip) + ":until"]).values()
    remaining = max((value - now() for value in until), default=0)
    return math.ceil(remaining) if remaining > 0 else 0


def _count_failure(subject):
    """Count one failure for `subject`; lock it out when the limit is reached."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    since = cache.get(subject + ":since")
    if since is not None and now() - since >= window:
        cache.delete_many([subject + ":since", subject + ":failures"])
    cache.add(subject + ":since", now(), timeout=window)
    cache.add(subject + ":failures", 0, timeout=window)
    try:
        failures = cache.incr(subject + ":failures")
    except ValueError:  # the counter expired between add() and incr()
        cache.set(subject + ":failures", 1, timeout=window)
        failures = 1
    if failures >= settings.LOGIN_LOCKOUT_ATTEMPTS:
        # The lock lasts a full window from now; a new count starts when it ends.
        cache.set(subject + ":until", now() + window, timeout=window + 1)
        cache.delete_many([subject + ":since", subject + ":failures"])


def record_failure(email, ip):
    """Count a failed sign-in; return how long the caller is now locked out (0: not yet)."""
    _count_failure(_account(email))
    _count_failure(_address(ip))
    return seconds_locked(email, ip)


def clear_account(email):
    """Forget the account's failures (after a successful sign-in or password reset).

    The address's count stays: signing in to one's own account must not reset the
    allowance an attacker has for guessing other accounts' passwords."""
    subject = _account(email)
    cache.delete_many([subject + ":since", subject + ":failures", subject + ":until"])


def message(seconds):
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."
