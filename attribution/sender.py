"""Sending webhooks to customer URLs without letting those URLs reach our own network (SSRF).

`validate_url` checks an endpoint URL when it is saved; `send` checks it again at every delivery,
because DNS answers change. Both refuse any address that is not on the public internet unless
settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS is on (development, tests, the demo's local receiver).

Design: httpcore (the layer under httpx, already installed) with a network backend pinned to one
address. We resolve the host once, vet every address it has, and the backend connects to the
first one whatever host httpcore asks for. Everything else stays httpcore's: the Host header,
TLS with SNI and the certificate checked against the host name, HTTP/1.1 framing. So there is no
second resolution for DNS rebinding to use, and no hand-written TLS. httpcore has no redirect
handling and ignores proxy environment variables (a proxy would resolve the name again), which
is why this is not an httpx.Client. The pinned streams hold connect, TLS, write and every read to
one deadline, so a receiver dribbling bytes cannot stretch the timeout.
"""

import functools
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import certifi
import httpcore
from django.conf import settings
from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 500
EXCERPT_BYTES = 4096

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052): the
# address is judged by that IPv4 address, so DNS64 networks can still deliver to public hosts.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 documentation range added by RFC 9637, which Python 3.13.0 still reports as global.
_V6_DOCUMENTATION = ipaddress.ip_network("3fff::/20")
_HOSTNAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
# inet_aton accepts every historical IPv4 spelling: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_IPV4_SPELLING = re.compile(r"[0-9a-fx.]+")


@dataclass(frozen=True)
class SendResult:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    excerpt: str  # the first EXCERPT_BYTES of the body, decoded leniently
    latency_ms: float  # from the DNS lookup to the end of the excerpt


class SendError(Exception):
    """The request got no HTTP response; `reason` is a short plain sentence for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Unsafe(Exception):
    """A URL we will not send to: `message` for the person filling in a form, `reason` for a
    delivery log."""

    def __init__(self, message: str, reason: str):
        super().__init__(reason)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case ASCII (IDNA), as the Host header and TLS see it
    port: int
    target: str  # path and query
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # when the host is an IP literal

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, from one getaddrinfo call. Tests replace this function."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's roots plus certifi's, as httpx uses. Tests replace this to trust their CA."""
    context = ssl.create_default_context()
    context.load_verify_locations(certifi.where())
    return context


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet. `is_global` already excludes private,
    loopback, link-local (169.254.169.254), CGNAT 100.64/10, unspecified, documentation,
    benchmarking, broadcast, 240/4, fc00::/7, 6to4 and Teredo; it still calls multicast and
    fec0::/10 global, and IPv4-mapped and NAT64 addresses are only as public as their IPv4."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if ip.is_site_local or ip in _V6_DOCUMENTATION:
            return False
    # is_reserved catches ::/8, which holds the deprecated IPv4-compatible ::a.b.c.d.
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def validate_url(url: str) -> str:
    """The URL, stripped, if webhooks may be sent to it; otherwise a ValidationError in plain
    words. Host names are looked up: every address they have must be public."""
    url = url.strip()
    try:
        _addresses(_parse(url))
    except _Unsafe as exc:
        raise ValidationError(exc.message, code="unsafe_url") from None
    return url


def send(url: str, body: bytes, headers: dict, *, timeout: float = 15.0) -> SendResult:
    """POST `body` to `url` once, never following redirects (a 3xx is just the status)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        target = _parse(url)
        address = _addresses(target)[0]
    except _Unsafe as exc:
        raise SendError(exc.reason) from None
    dropped = {"host", "content-length", "transfer-encoding"}  # ours to set, from the body
    request_headers = [(k, v) for k, v in headers.items() if k.lower() not in dropped]
    request_headers.append(("Host", target.host_header))
    # An IPv4-mapped address is dialled as the IPv4 address it stands for.
    address = getattr(address, "ipv4_mapped", None) or address
    pool = httpcore.ConnectionPool(
        ssl_context=tls_context() if target.scheme == "https" else None,
        network_backend=_PinnedBackend(str(address), deadline),
        max_connections=1,
    )
    request_url = httpcore.URL(
        scheme=target.scheme, host=target.host, port=target.port, target=target.target
    )
    limits = dict.fromkeys(("connect", "read", "write", "pool"), timeout)
    try:
        with (
            pool,
            pool.stream(
                "POST",
                request_url,
                headers=request_headers,
                content=body,
                extensions={"timeout": limits},
            ) as response,
        ):
            excerpt = _read_excerpt(response)
    except httpcore.TimeoutException:
        raise SendError(f"timed out after {timeout:g} s") from None
    except httpcore.ConnectError as exc:
        raise SendError(_connect_failure(exc)) from None
    except httpcore.NetworkError as exc:
        raise SendError(f"connection lost: {_cause(exc)}") from None
    except httpcore.RemoteProtocolError as exc:
        raise SendError(f"not an HTTP response: {exc}") from None
    except httpcore.LocalProtocolError as exc:
        raise SendError(f"could not send the request: {exc}") from None
    response_headers: dict[str, str] = {}
    for name, value in response.headers:
        key = name.decode("latin-1").lower()
        value = value.decode("latin-1")
        response_headers[key] = (
            f"{response_headers[key]}, {value}" if key in response_headers else value
        )
    return SendResult(
        status=response.status,
        headers=response_headers,
        excerpt=excerpt,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def _parse(url: str) -> _Target:
    invalid = _Unsafe(
        "That doesn't look like a web address. Copy it again from your receiver.", "invalid URL"
    )
    if len(url) > MAX_URL_LENGTH:
        raise _Unsafe(f"Keep the address under {MAX_URL_LENGTH} characters.", "URL too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid from None
    allowed = {"https", "http"} if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else {"https"}
    if parts.scheme not in allowed:
        raise _Unsafe("Use an https:// address.", "not an https URL")
    if "@" in parts.netloc:
        raise _Unsafe(
            "Leave the user name and password out of the address; check the signature instead.",
            "credentials in URL",
        )
    host = parts.hostname
    if not host or "%" in host:
        raise invalid
    if port == 0:
        raise _Unsafe("Use a port between 1 and 65535.", "port 0")
    ip = _ip_literal(host)
    if ip is not None:
        host = str(ip)  # 2130706433 is sent, and its certificate checked, as 127.0.0.1
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise invalid from None
        if len(host) > 253 or not _HOSTNAME.fullmatch(host):
            raise invalid
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        # Spaces and non-ASCII would break the request line; everything else passes unchanged.
        target=quote(path, safe="!#$%&'()*+,/:;=?@[]~"),
        ip=ip,
    )


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ":" in host:  # urlsplit only gives a colon for a bracketed IPv6 literal
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _Unsafe("That IPv6 address isn't valid.", "invalid URL") from None
    bare = host.removesuffix(".")
    if _IPV4_SPELLING.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None  # a host name made of hex letters, like "cafe.be"
    return None


def _addresses(target: _Target) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses to connect to: the literal, or every address the name resolves to."""
    if target.ip is not None:
        addresses = [target.ip]
    else:
        try:
            answers = resolve(target.host, target.port)
            addresses = [ipaddress.ip_address(a) for a in dict.fromkeys(answers)]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise _Unsafe(
                "We couldn't find that host name. Check the spelling.", "DNS lookup failed"
            )
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        for ip in addresses:
            if not is_public(ip):
                raise _Unsafe(
                    f"That address points into a private network ({ip}). Webhooks can only "
                    "go to addresses on the public internet.",
                    f"refused: {ip} is a private address",
                )
    return addresses


def _read_excerpt(response: httpcore.Response) -> str:
    data = b""
    for chunk in response.iter_stream():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break  # closing the response drops the connection and the rest of the body
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _cause(exc: httpcore.NetworkError) -> BaseException:
    # httpcore wraps the socket's error as its first argument (the pool drops __cause__).
    return exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc


def _connect_failure(exc: httpcore.ConnectError) -> str:
    cause = _cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS error: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS error: {cause.reason or cause}"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    return f"connection failed: {cause}"


def _remaining(deadline: float, timeout_error: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise timeout_error("deadline passed")
    return left


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the one vetted address whatever host httpcore asks for."""

    def __init__(self, address: str, deadline: float):
        self._address = address
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = httpcore.SyncBackend().connect_tcp(
            self._address,
            port,
            timeout=_remaining(self._deadline, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream, self._deadline)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation gets only the time left before the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes, timeout=None):
        return self._stream.read(max_bytes, _remaining(self._deadline, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self._stream.write(buffer, _remaining(self._deadline, httpcore.WriteTimeout))

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        remaining = _remaining(self._deadline, httpcore.ConnectTimeout)
        tls = self._stream.start_tls(ssl_context, server_hostname, remaining)
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)
