"""The SSRF-safe webhook sender: which URLs are refused (and never contacted), and how a send
to a real local receiver behaves: status, excerpt, headers, timeouts, TLS against the host name."""

import contextlib
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ValidationError

from attribution import sender

PUBLIC_IP = "93.184.215.14"


# --- Local receivers ------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that counts every TCP connection it accepts (so a TLS hello
    or a half-sent request still counts) and hands POSTs to `respond(handler)`."""

    daemon_threads = True

    def __init__(self, respond):
        self.respond = respond
        self.connections = 0
        self.requests = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        request = super().get_request()
        self.connections += 1
        return request

    @property
    def port(self):
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": self.headers, "body": body})
        # OSError: the sender hung up, as it should after a timeout or a long body.
        with contextlib.suppress(OSError):
            self.server.respond(self)

    def log_message(self, *args):
        pass


def reply(status=200, body=b"ok", headers=()):
    def respond(handler):
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@pytest.fixture
def serve():
    servers = []

    def start(respond=None, tls=None):
        server = Receiver(respond or reply())
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def canary(serve):
    """A loopback server that must never hear from the sender."""
    return serve()


class FakeDNS:
    """Answers from a table; a name given several answers returns them in turn."""

    def __init__(self):
        self.table = {}
        self.calls = []

    def answer(self, host, *answers):
        self.table[host] = list(answers)

    def __call__(self, host, port):
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = self.table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS()
    monkeypatch.setattr(sender, "resolve", fake)
    return fake


@pytest.fixture(autouse=True)
def private_networks_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def refusal(url):
    with pytest.raises(sender.SendError) as caught:
        sender.send(url, b"{}", {"content-type": "application/json"}, timeout=2)
    return caught.value.reason


# --- validate_url -------------------------------------------------------------------------

NON_PUBLIC_HOSTS = [
    "10.0.0.5",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "127.0.0.1.",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.2.10",
    "198.18.0.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "0x7f.1",
    "017700000001",
    "0xa9.0xfe.0xa9.0xfe",
    "2852039166",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[::127.0.0.1]",
    "[64:ff9b::10.0.0.1]",
    "[64:ff9b:1::1]",
    "[2002:a00:1::1]",
    "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[ff0e::1]",
    "[2001:db8::1]",
    "[3fff::1]",
]


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
def test_non_public_addresses_in_any_spelling_are_refused(host, dns):
    with pytest.raises(ValidationError, match="points into a private network"):
        sender.validate_url(f"https://{host}/hooks")
    assert dns.calls == []  # an IP literal is judged as written, never looked up


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://hooks.example.com/", "Use an https:// address"),
        ("ftp://hooks.example.com/", "Use an https:// address"),
        ("hooks.example.com/x", "Use an https:// address"),
        ("https://user:pw@hooks.example.com/", "Leave the user name and password out"),
        ("https://hooks.example.com\\@127.0.0.1/", "Leave the user name and password out"),
        ("https://hooks.example.com:0/", "port between 1 and 65535"),
        ("https://hooks.example.com:65536/", "doesn't look like a web address"),
        ("https:///hooks", "doesn't look like a web address"),
        ("https://hooks example.com/", "doesn't look like a web address"),
        ("https://[fe80::1%25eth0]/", "doesn't look like a web address"),
        ("https://hooks.example.com/" + "a" * 500, "under 500 characters"),
        ("https://nowhere.example/", "couldn't find that host name"),
    ],
)
def test_malformed_and_unsafe_urls_are_refused_in_plain_words(url, message, dns):
    dns.answer("hooks.example.com", [PUBLIC_IP])
    with pytest.raises(ValidationError, match=message):
        sender.validate_url(url)


def test_a_host_name_resolving_to_a_private_address_is_refused(dns):
    dns.answer("internal.example.com", ["10.1.2.3"])
    with pytest.raises(ValidationError, match=r"private network \(10\.1\.2\.3\)"):
        sender.validate_url("https://internal.example.com/hooks")


def test_a_host_name_with_one_private_address_among_public_ones_is_refused(dns):
    dns.answer("mixed.example.com", [PUBLIC_IP, "2606:4700::1111", "169.254.169.254"])
    with pytest.raises(ValidationError, match="169.254.169.254"):
        sender.validate_url("https://mixed.example.com/hooks")


def test_localhost_is_refused_through_the_real_resolver():
    with pytest.raises(ValidationError, match="private network"):
        sender.validate_url("https://localhost/hooks")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/webhooks?key=1",
        "https://hooks.example.com:8443/",
        "https://8.8.8.8/hooks",
        "https://[2606:4700::1111]/hooks",
        "https://[::ffff:8.8.8.8]/hooks",
        "https://[64:ff9b::8.8.8.8]/hooks",
    ],
)
def test_public_https_urls_are_accepted(url, dns):
    dns.answer("hooks.example.com", [PUBLIC_IP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    assert sender.validate_url(f"  {url} ") == url


def test_international_host_names_are_looked_up_in_their_ascii_form(dns):
    dns.answer("xn--bcher-kva.example", [PUBLIC_IP])
    sender.validate_url("https://bücher.example/hooks")
    assert dns.calls == ["xn--bcher-kva.example"]


def test_the_setting_allows_local_receivers_over_http(allow_private):
    assert sender.validate_url("http://127.0.0.1:8000/hooks") == "http://127.0.0.1:8000/hooks"
    assert sender.validate_url("http://localhost:8000/hooks") == "http://localhost:8000/hooks"


def test_well_known_non_global_ranges_are_not_public():
    import ipaddress

    # is_global is the base of is_public; pin the Python behaviour it relies on.
    assert not ipaddress.ip_address("100.64.0.1").is_global
    assert not ipaddress.ip_address("169.254.169.254").is_global
    assert sender.is_public(ipaddress.ip_address("8.8.8.8"))
    assert not sender.is_public(ipaddress.ip_address("224.0.1.1"))  # is_global says yes


# --- send: refused before any connection --------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
    ],
)
def test_send_refuses_loopback_in_any_spelling_and_the_canary_hears_nothing(host, canary, dns):
    reason = refusal(f"https://{host}:{canary.port}/hooks")
    assert reason == "refused: 127.0.0.1 is a private address" or reason.startswith("refused: ::")
    assert canary.connections == 0
    assert dns.calls == []


def test_send_refuses_the_metadata_address():
    assert refusal("https://169.254.169.254/latest/meta-data/") == (
        "refused: 169.254.169.254 is a private address"
    )


def test_send_refuses_a_host_name_resolving_to_a_private_address(dns):
    dns.answer("internal.example.com", ["10.0.0.5"])
    assert refusal("https://internal.example.com/hooks") == "refused: 10.0.0.5 is a private address"


def test_send_refuses_a_host_name_resolving_to_loopback_and_the_canary_hears_nothing(canary, dns):
    dns.answer("sneaky.example.com", ["127.0.0.1"])
    assert refusal(f"https://sneaky.example.com:{canary.port}/").startswith("refused: 127.0.0.1")
    assert canary.connections == 0


def test_send_refuses_localhost_through_the_real_resolver(canary):
    assert refusal(f"https://localhost:{canary.port}/").startswith("refused: ")
    assert canary.connections == 0


def test_send_resolves_once_and_connects_to_the_vetted_address(dns, canary, monkeypatch):
    # A rebinding DNS server answers public first, loopback after: the second answer must
    # never be asked for, and the connection goes to the address that was checked.
    dns.answer("rebind.example.com", [PUBLIC_IP], ["127.0.0.1"])
    connects = []

    def connect_tcp(backend, host, port, **kwargs):
        connects.append((host, port))
        raise httpcore.ConnectError("stopped by the test")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    reason = refusal(f"https://rebind.example.com:{canary.port}/hooks")
    assert reason == "connection failed: stopped by the test"
    assert dns.calls == ["rebind.example.com"]
    assert connects == [(PUBLIC_IP, canary.port)]
    assert canary.connections == 0


def test_send_reports_a_failed_lookup(dns):
    assert refusal("https://nowhere.example.com/") == "DNS lookup failed"


def test_send_refuses_http_unless_private_networks_are_allowed(dns):
    dns.answer("hooks.example.com", [PUBLIC_IP])
    assert refusal("http://hooks.example.com/") == "not an https URL"


def test_a_redirect_is_returned_not_followed(serve, canary, allow_private):
    location = f"http://127.0.0.1:{canary.port}/"
    receiver = serve(reply(302, b"", [("Location", location)]))
    result = sender.send(f"http://127.0.0.1:{receiver.port}/hooks", b"{}", {})
    assert result.status == 302
    assert result.headers["location"] == location
    assert len(receiver.requests) == 1
    assert canary.connections == 0


# --- send: against a local receiver -------------------------------------------------------


def test_send_posts_the_body_and_headers_and_returns_the_response(serve, dns, allow_private):
    receiver = serve(reply(202, b'{"ok": true}', [("Retry-After", "30"), ("X-Note", "a")]))
    dns.answer("hooks.local.test", ["127.0.0.1"])
    result = sender.send(
        f"http://hooks.local.test:{receiver.port}/in?source=chairfill",
        b'{"type": "booking_completed"}',
        {"webhook-id": "evt_1", "content-type": "application/json", "Host": "evil.example"},
    )
    assert result.status == 202
    assert result.excerpt == '{"ok": true}'
    assert result.headers["retry-after"] == "30"
    assert result.latency_ms > 0
    [request] = receiver.requests
    assert request["path"] == "/in?source=chairfill"
    assert request["body"] == b'{"type": "booking_completed"}'
    assert request["headers"]["webhook-id"] == "evt_1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"].get_all("Host") == [f"hooks.local.test:{receiver.port}"]


def test_a_large_response_is_cut_at_4_kb_without_downloading_it(serve, allow_private):
    written = []
    finished = threading.Event()

    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(500 * 2**20))
        handler.end_headers()
        chunk = "é".encode() * 32768
        try:
            while sum(written) < 500 * 2**20:
                handler.wfile.write(chunk)
                written.append(len(chunk))
        finally:
            finished.set()

    receiver = serve(endless)
    started = time.monotonic()
    result = sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", {})
    assert time.monotonic() - started < 2
    assert result.status == 200
    assert len(result.excerpt) == 2048  # 4096 bytes of two-byte characters
    assert finished.wait(5)
    assert sum(written) < 50 * 2**20  # the receiver was cut off long before 500 MB


def test_a_slow_receiver_times_out_quickly(serve, allow_private):
    def slow(handler):
        time.sleep(3)
        reply()(handler)

    receiver = serve(slow)
    started = time.monotonic()
    with pytest.raises(sender.SendError, match=r"^timed out after 0\.3 s$"):
        sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", {}, timeout=0.3)
    assert time.monotonic() - started < 1


def test_a_receiver_dribbling_bytes_cannot_stretch_the_timeout(serve, allow_private):
    def dribble(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(0.05)

    receiver = serve(dribble)
    started = time.monotonic()
    with pytest.raises(sender.SendError, match="timed out"):
        sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", {}, timeout=0.5)
    assert time.monotonic() - started < 1


def test_a_closed_port_is_reported_as_connection_refused(allow_private):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert refusal(f"http://127.0.0.1:{port}/") == "connection refused"


# --- send: TLS against the host name while connected to the vetted address ----------------


def _certificate_authority(tmp_path, hostname):
    """A CA and a server certificate for `hostname`, strict enough for Python 3.13's checks."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Chairfill test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem")
    client = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    return server, client


@pytest.fixture
def tls_receiver(tmp_path, serve, dns, allow_private):
    """A TLS receiver on 127.0.0.1 whose certificate names hooks.example.test; both that name
    and other.example.test resolve to it."""
    server_context, client_context = _certificate_authority(tmp_path, "hooks.example.test")
    names = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    receiver = serve(reply(200, b"tls ok"), tls=server_context)
    receiver.server_names = names
    receiver.client_context = client_context
    dns.answer("hooks.example.test", ["127.0.0.1"])
    dns.answer("other.example.test", ["127.0.0.1"])
    return receiver


@pytest.fixture
def trust_test_ca(tls_receiver, monkeypatch):
    monkeypatch.setattr(sender, "tls_context", lambda: tls_receiver.client_context)


def test_tls_checks_the_certificate_for_the_host_name_not_the_address(tls_receiver, trust_test_ca):
    result = sender.send(f"https://hooks.example.test:{tls_receiver.port}/", b"{}", {})
    assert (result.status, result.excerpt) == (200, "tls ok")
    assert tls_receiver.server_names == ["hooks.example.test"]
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{tls_receiver.port}"


def test_a_certificate_for_another_name_is_a_tls_error(tls_receiver, trust_test_ca):
    reason = refusal(f"https://other.example.test:{tls_receiver.port}/")
    assert reason.startswith("TLS error: Hostname mismatch")
    assert "other.example.test" in reason
    assert tls_receiver.requests == []


def test_a_certificate_from_an_unknown_authority_is_a_tls_error(tls_receiver):
    reason = refusal(f"https://hooks.example.test:{tls_receiver.port}/")
    assert reason == "TLS error: unable to get local issuer certificate"
    assert tls_receiver.requests == []
