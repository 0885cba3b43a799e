"""Every way a Zenoti call can fail maps to one typed error with a message an owner can act on:
HTTP statuses, HTTP 200 bodies with an error, proxy pages, unreadable bodies, and network
failures. No message ever contains the API key."""

import socket
import ssl

import httpx
import pytest

from booking.zenoti import errors

from .doubles import API_KEY, Recorder, respond

CENTER_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


def business(code, message="Something"):
    return {"error": {"code": code, "message": message}}


def fail(make_client, answer, call=lambda c: c.get_center(CENTER_ID), **options):
    client = make_client(Recorder(answer), **options)
    with pytest.raises(errors.ZenotiError) as caught:
        call(client)
    assert API_KEY not in caught.value.message
    assert API_KEY not in repr(caught.value)
    return caught.value


def test_401_is_an_auth_error_telling_the_owner_to_check_the_key(make_client):
    error = fail(
        make_client,
        respond(401, {"Message": "Authorization has been denied for this request."}),
    )
    assert type(error) is errors.AuthError
    assert error.status == 401
    assert "API key" in error.message and "center page" in error.message


@pytest.mark.parametrize("answer", [respond(403, {}), respond(200, business(438, "No access"))])
def test_no_access_is_an_auth_error(make_client, answer):
    error = fail(make_client, answer)
    assert type(error) is errors.AuthError
    assert "refused access" in error.message


# (code, error class, words in the message), each as HTTP 400 and as HTTP 200 + error.
BUSINESS = [
    (4072, errors.SlotUnavailableError, "pick another time"),
    (502, errors.NotFoundError, "couldn't find"),
    (503, errors.ValidationError, "referral source"),
    (460, errors.ValidationError, "already paid"),
    (728, errors.ValidationError, "already closed"),
    (422, errors.ValidationError, "refused"),
    (9999, errors.ValidationError, "code 9999"),
]


@pytest.mark.parametrize("status", [400, 200])
@pytest.mark.parametrize("code, cls, words", BUSINESS)
def test_business_errors_map_the_same_as_4xx_or_as_200(make_client, status, code, cls, words):
    error = fail(make_client, respond(status, business(code, "Zenoti's own words")))
    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert words in error.message


def test_zenotis_own_message_is_quoted_when_it_helps(make_client):
    error = fail(make_client, respond(400, business(503, "Mandatory fields missing.")))
    assert "Mandatory fields missing." in error.message


def test_404_with_json_and_with_html_are_not_found(make_client):
    assert type(fail(make_client, respond(404, business(404, "nope")))) is errors.NotFoundError
    error = fail(make_client, respond(404, text="<html>Not Found</html>"))
    assert type(error) is errors.NotFoundError
    assert "base URL" in error.message


def test_429_is_rate_limited_with_retry_after(make_client):
    answer = respond(429, business(429, "Too many requests"), headers={"Retry-After": "7"})
    error = fail(make_client, answer, deadline=5.0)
    assert type(error) is errors.RateLimitedError
    assert error.retry_after == 7.0
    assert "7 seconds" in error.message


@pytest.mark.parametrize(
    "answer, words",
    [
        (respond(500, {"Message": "An error has occurred."}), "internal problem"),
        (respond(502, text=HTML, headers={"content-type": "text/html"}), "error page"),
        (respond(503, text=HTML), "error page"),
        (respond(504, text=""), "error page"),
    ],
)
def test_5xx_and_proxy_pages_are_upstream_unavailable(make_client, answer, words):
    error = fail(make_client, answer, deadline=0.5)
    assert type(error) is errors.UpstreamUnavailableError
    assert words in error.message
    assert "try again" in error.message


@pytest.mark.parametrize(
    "text, words",
    [
        (HTML, "a web page"),
        ('{"center": {"id": "x", "na', "isn't JSON"),
        ("", "an empty answer"),
        ("\xff\xfe garbage", "isn't JSON"),
    ],
)
def test_unreadable_200_answers_are_upstream_unavailable(make_client, text, words):
    error = fail(make_client, respond(200, text=text))
    assert type(error) is errors.UpstreamUnavailableError
    assert words in error.message
    assert "GET /centers/{center_id}" in error.message


def test_an_html_page_with_a_4xx_status_points_at_the_base_url(make_client):
    error = fail(make_client, respond(400, text=HTML))
    assert type(error) is errors.UpstreamUnavailableError
    assert "base URL" in error.message


def test_a_redirect_points_at_the_base_url(make_client):
    error = fail(make_client, httpx.Response(301, headers={"Location": "https://elsewhere.test"}))
    assert type(error) is errors.UpstreamUnavailableError
    assert "base URL" in error.message


def test_408_is_a_timeout(make_client):
    error = fail(make_client, respond(408, text=""), deadline=0.1)
    assert type(error) is errors.ZenotiTimeoutError


def connect_error(cause):
    def raise_it(request):
        try:
            raise cause
        except Exception as exc:
            raise httpx.ConnectError(str(cause), request=request) from exc

    return raise_it


def test_dns_failure_says_the_server_could_not_be_found(make_client):
    error = fail(
        make_client, connect_error(socket.gaierror(-2, "Name or service not known")), deadline=0.5
    )
    assert type(error) is errors.UpstreamUnavailableError
    assert "DNS" in error.message and "api.zenoti.test" in error.message


def test_tls_failure_says_the_secure_connection_failed(make_client):
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    error = fail(make_client, connect_error(cause), deadline=0.5)
    assert type(error) is errors.UpstreamUnavailableError
    assert "TLS" in error.message


def test_refused_connection_says_zenoti_may_be_down(make_client):
    error = fail(
        make_client, connect_error(ConnectionRefusedError(111, "Connection refused")), deadline=0.5
    )
    assert type(error) is errors.UpstreamUnavailableError
    assert "Couldn't connect" in error.message


def test_broken_connection_mid_answer_is_upstream_unavailable(make_client):
    def broken(request):
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )

    error = fail(make_client, broken, deadline=0.5)
    assert type(error) is errors.UpstreamUnavailableError
    assert "broke" in error.message


@pytest.mark.parametrize(
    "exc, words",
    [
        (httpx.ReadTimeout, "didn't answer within 10 seconds"),
        (httpx.ConnectTimeout, "Couldn't reach Zenoti"),
        (httpx.PoolTimeout, "Couldn't reach Zenoti"),
        (httpx.WriteTimeout, "didn't answer within"),
    ],
)
def test_timeouts_are_zenoti_timeout_errors(make_client, exc, words):
    def hang(request):
        raise exc("timed out", request=request)

    error = fail(make_client, hang, deadline=30.0, sleep=lambda s: None)
    assert type(error) is errors.ZenotiTimeoutError
    assert words in error.message


@pytest.mark.parametrize("key", ["", "   ", "zk-é-key", "zk\nkey"])
def test_a_key_zenoti_could_never_accept_is_an_auth_error_without_a_request(make_client, key):
    recorder = Recorder(respond(200, {}))
    client = make_client(recorder, api_key=key)
    with pytest.raises(errors.AuthError, match="paste it again"):
        client.get_center(CENTER_ID)
    assert recorder.requests == []


def test_the_key_travels_only_in_the_authorization_header(make_client):
    recorder = Recorder(respond(200, {"center": {"id": CENTER_ID, "name": "Soho"}}))
    client = make_client(recorder)
    client.get_center(CENTER_ID)
    request = recorder.requests[0]
    assert request.headers["Authorization"] == f"apikey {API_KEY}"
    assert API_KEY not in str(request.url)
    assert API_KEY not in repr(client)


def test_error_hierarchy():
    assert issubclass(errors.BudgetExhaustedError, errors.RateLimitedError)
    for cls in (
        errors.AuthError,
        errors.NotFoundError,
        errors.ValidationError,
        errors.RateLimitedError,
        errors.SlotUnavailableError,
        errors.UpstreamUnavailableError,
        errors.ZenotiTimeoutError,
    ):
        assert issubclass(cls, errors.ZenotiError)
        assert cls().message  # a default in plain words
    error = errors.ZenotiError("Boom", status=500, code=1, retry_after=3)
    assert (str(error), error.status, error.code, error.retry_after) == ("Boom", 500, 1, 3)


@pytest.mark.parametrize(
    "url", ["ftp://zenoti.example/v1", "api.zenoti.com/v1", "https://", "http://exa mple.com"]
)
def test_a_malformed_base_url_is_explained_without_a_request(make_client, url):
    recorder = Recorder(respond(200, {}))
    client = make_client(recorder, base_url=url)
    with pytest.raises(errors.UpstreamUnavailableError, match="valid web address"):
        client.get_center(CENTER_ID)
    assert recorder.requests == []


def test_a_body_that_fails_to_decompress_is_upstream_unavailable(make_client):
    def answer(request):
        return httpx.Response(
            200, stream=httpx.ByteStream(b"\x1f\x8b not gzip"), headers={"Content-Encoding": "gzip"}
        )

    error = fail(make_client, answer, deadline=0.1)
    assert type(error) is errors.UpstreamUnavailableError
