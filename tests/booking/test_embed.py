"""The embed's server side: origins, the frame-ancestors policy and the loader script."""

import gzip
import json
import re

import pytest
from django.conf import settings
from django.utils.csp import CSP

from booking.embed import apply_embed_headers, frame_csp, normalise_origin, pinned_origin
from booking.models import Widget

pytestmark = pytest.mark.urls("tests.booking.embed_urls")

SALON = "https://salon.example"
WWW = "https://www.salon.example"


@pytest.fixture
def widget(org):
    return Widget.objects.create(
        organization=org,
        name="Website",
        code="lumenweb",
        mode=Widget.Mode.POPUP,
        button_text="Book your chair",
        brand_color="#0f766e",
        allowed_origins=[SALON, WWW],
    )


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://salon.example", "https://salon.example"),
        ("https://Salon.EXAMPLE/book/?utm_source=google#top", "https://salon.example"),
        ("HTTPS://salon.example:443/", "https://salon.example"),
        ("http://salon.example:80", "http://salon.example"),
        ("https://salon.example:8443/x", "https://salon.example:8443"),
        ("http://localhost:8000/sandbox/host/", "http://localhost:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://[::1]:8443/", "https://[::1]:8443"),
        ("  https://salon.example  ", "https://salon.example"),
        ("salon.example", None),
        ("//salon.example", None),
        ("ftp://salon.example", None),
        ("javascript:alert(1)", None),
        ("https://user:secret@salon.example", None),
        ("https://salon.example:99999", None),
        ("https://salon.example:port", None),
        ("https://", None),
        ("", None),
        (None, None),
        (["https://salon.example"], None),
    ],
)
def test_normalise_origin(value, origin):
    assert normalise_origin(value) == origin


@pytest.mark.parametrize(
    ("host_url", "pinned"),
    [
        ("https://salon.example/book?utm_source=google", SALON),
        ("https://www.salon.example/", WWW),
        ("https://WWW.salon.example:443/spa", WWW),
        ("http://salon.example/", ""),  # another scheme is another origin
        ("https://salon.example:8443/", ""),
        ("https://evil.example/?https://salon.example", ""),
        ("https://salon.example.evil.example/", ""),
        ("", ""),
        ("not a url", ""),
    ],
)
def test_pinned_origin_is_the_allowed_origin_of_the_host_page(widget, host_url, pinned):
    assert pinned_origin(widget, host_url) == pinned


def test_pinned_origin_matches_allowed_origins_as_the_owner_typed_them(widget):
    widget.allowed_origins = ["https://Salon.Example/"]
    assert pinned_origin(widget, "https://salon.example/book") == SALON


def test_nothing_is_pinned_for_a_disabled_widget_or_a_suspended_organization(widget, org):
    widget.enabled = False
    assert pinned_origin(widget, SALON) == ""
    widget.enabled = True
    org.is_active = False
    assert pinned_origin(widget, SALON) == ""


def test_frame_csp_names_exactly_the_allowed_origins(widget):
    policy = frame_csp(widget)
    assert policy["frame-ancestors"] == [SALON, WWW]
    others = {k: v for k, v in policy.items() if k != "frame-ancestors"}
    assert others == {k: v for k, v in settings.SECURE_CSP.items() if k != "frame-ancestors"}


@pytest.mark.parametrize("change", ["no_origins", "disabled", "suspended"])
def test_frame_csp_is_none_without_origins_or_when_switched_off(widget, change):
    if change == "no_origins":
        widget.allowed_origins = []
    elif change == "disabled":
        widget.enabled = False
    else:
        widget.organization.is_active = False
    assert frame_csp(widget)["frame-ancestors"] == [CSP.NONE]


def test_embed_headers_let_the_allowed_origins_frame_the_page(client, widget):
    response = client.get("/framed/lumenweb/")
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {SALON} {WWW}" in policy
    assert "object-src 'none'" in policy  # the rest of the site's policy is kept
    assert "X-Frame-Options" not in response.headers


def test_embed_headers_deny_framing_for_a_widget_without_origins(client, widget):
    Widget.objects.filter(pk=widget.pk).update(allowed_origins=[])
    response = client.get("/framed/lumenweb/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_apply_embed_headers_returns_the_response(widget):
    from django.http import HttpResponse

    response = HttpResponse()
    assert apply_embed_headers(response, widget) is response
    assert response.xframe_options_exempt is True


# --- the loader ------------------------------------------------------------------------


def loader_config(body):
    match = re.search(r"\}\)\(window, document, (\{.*\})\);\s*$", body)
    assert match, body[-300:]
    return json.loads(match.group(1))


def test_loader_is_a_script_with_the_widget_settings(client, widget, org):
    response = client.get("/w/lumenweb.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    body = response.content.decode()
    assert "/*CONFIG*/" not in body
    assert loader_config(body) == {
        "code": "lumenweb",
        "mode": "popup",
        "site": "http://localhost:8000",
        "url": "http://localhost:8000/b/lumen/lumenweb/",
        "name": "Lumen Salon",
        "button": "Book your chair",
        "color": "#0f766e",
        "text": "#ffffff",
        "radius": 8,
    }


def test_loader_follows_site_url_and_organization_branding(client, widget, org, settings):
    settings.SITE_URL = "https://book.chairfill.example"
    org.display_name = "Lumen Hair & Spa"
    org.brand_color = "#fde68a"
    org.save()
    Widget.objects.filter(pk=widget.pk).update(brand_color="")
    config = loader_config(client.get("/w/lumenweb.js").content.decode())
    assert config["site"] == "https://book.chairfill.example"
    assert config["url"] == "https://book.chairfill.example/b/lumen/lumenweb/"
    assert config["name"] == "Lumen Hair & Spa"
    assert (config["color"], config["text"]) == ("#fde68a", "#1b1e2b")


def test_loader_settings_cannot_break_out_of_the_script(client, widget):
    Widget.objects.filter(pk=widget.pk).update(button_text='</script>\u2028"); alert(1); //')
    body = client.get("/w/lumenweb.js").content.decode()
    assert "\u2028" not in body
    assert loader_config(body)["button"] == '</script>\u2028"); alert(1); //'


def test_loader_is_small(client, widget):
    response = client.get("/w/lumenweb.js")
    assert len(response.content) < 8 * 1024
    zipped = client.get("/w/lumenweb.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.content) < 4 * 1024
    assert gzip.decompress(zipped.content) == response.content


def test_loader_is_cached_briefly_and_revalidated_by_etag(client, widget):
    response = client.get("/w/lumenweb.js")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)

    again = client.get("/w/lumenweb.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"
    # A proxy or gzip may weaken the tag; it still names the same content.
    assert client.get("/w/lumenweb.js", headers={"if-none-match": f"W/{etag}"}).status_code == 304


def test_an_edited_widget_gets_a_new_etag(client, widget):
    etag = client.get("/w/lumenweb.js").headers["ETag"]
    Widget.objects.filter(pk=widget.pk).update(button_text="Book now")
    response = client.get("/w/lumenweb.js", headers={"if-none-match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag


@pytest.mark.parametrize("case", ["unknown", "disabled", "suspended"])
def test_loader_of_a_missing_or_switched_off_widget_is_a_quiet_404(client, widget, org, case):
    code = "lumenweb"
    if case == "unknown":
        code = "nosuchwidget"
    elif case == "disabled":
        Widget.objects.filter(pk=widget.pk).update(enabled=False)
    else:
        org.is_active = False
        org.save()
    response = client.get(f"/w/{code}.js")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("/*") and body.strip().endswith("*/")
    assert body.count("\n") == 1


def test_loader_only_answers_get(client, widget):
    assert client.post("/w/lumenweb.js").status_code == 405
