"""The embed in a real Chromium: the loader on a host page of another origin, framing a stand-in
funnel page that runs the real funnel.js. The host is http://localhost:<port>, our site
http://127.0.0.1:<port> (same live server, two origins), as for a salon's site and Chairfill.
Last, the sandbox's example host page around the same stand-in.
"""

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template import Context, Template
from django.urls import path
from django.utils import timezone
from django.utils.csp import CSP
from playwright.sync_api import expect

from booking.embed import apply_embed_headers, pinned_origin
from booking.models import Widget
from booking.views.embed import widget_loader
from config.urls import urlpatterns as site_patterns

pytestmark = pytest.mark.urls(__name__)

FUNNEL = Template("""{% load static %}<!doctype html>
<html lang="en"><head><title>Stand-in funnel</title><link rel="icon" href="data:,">
<script src="{% static 'js/funnel.js' %}" defer></script></head>
<body data-origin="{{ origin }}">
<h1>Stand-in funnel</h1>
<pre id="query">{{ query }}</pre>
<form><input type="hidden" name="tz"></form>
<p>Held for <span id="hold" data-countdown-until="{{ until }}" data-expired-text="Hold lapsed">…</span></p>
<p>Old hold: <span id="lapsed" data-countdown-until="{{ lapsed }}" data-expired-text="Hold lapsed">…</span></p>
<div id="filler"></div>
<div hidden data-chairfill-event="widget_opened" data-detail='{"widget": "{{ code }}"}'></div>
</body></html>""")

HOST = Template("""<!doctype html>
<html lang="en"><head><title>Salon</title><link rel="icon" href="data:,">
<script src="{{ site }}/w/{{ code }}.js" data-mode="{{ mode }}" defer></script></head>
<body><h1>Salon</h1><div data-chairfill-widget="{{ code }}"></div></body></html>""")


def funnel(request, org, widget):
    """Stands in for the funnel's pages: shows the query it got, sends the embed headers."""
    widget = get_object_or_404(Widget, organization__slug=org, code=widget)
    now = timezone.now()
    ctx = {
        "origin": pinned_origin(widget, request.GET.get("cf_host", "")),
        "query": json.dumps({k: request.GET.getlist(k) for k in request.GET}),
        "until": (now + timedelta(minutes=9, seconds=30)).isoformat(),
        "lapsed": (now - timedelta(seconds=1)).isoformat(),
        "code": widget.code,
    }
    return apply_embed_headers(HttpResponse(FUNNEL.render(Context(ctx))), widget)


def host(request, mode):
    """A salon's page on another origin; its own CSP lets in our script and frame."""
    site = settings.SITE_URL
    ctx = {"site": site, "code": "lumenweb", "mode": mode}
    response = HttpResponse(HOST.render(Context(ctx)))
    response._csp_config = {
        **settings.SECURE_CSP,
        "script-src": [CSP.SELF, site],
        "frame-src": [CSP.SELF, site],
    }
    return response


urlpatterns = [
    path("w/<code:widget>.js", widget_loader, name="booking-widget-loader"),
    path("b/<slug:org>/<code:widget>/", funnel, name="booking-funnel-start"),
    path("host/<str:mode>/", host),
    *site_patterns,  # /sandbox/host/ and the static files
]


@pytest.fixture
def site(live_server, settings):
    """Our site's origin, distinct from the host page's (live_server.url, on localhost)."""
    settings.SITE_URL = live_server.url.replace("localhost", "127.0.0.1")
    return settings.SITE_URL


@pytest.fixture
def widget(org, live_server, site):
    return Widget.objects.create(
        organization=org,
        name="Website",
        code="lumenweb",
        button_text="Book your chair",
        brand_color="#0f766e",
        allowed_origins=[live_server.url],
    )


def funnel_frame(page):
    """The funnel's frame once its page has loaded."""
    iframe = page.locator("[data-chairfill-widget] iframe, dialog iframe").first
    expect(iframe).to_be_attached()
    frame = iframe.element_handle().content_frame()
    frame.wait_for_load_state()
    expect(frame.locator("#query")).to_have_count(1)
    return frame


def received_query(page):
    return json.loads(funnel_frame(page).locator("#query").text_content())


def record_events(page):
    """Collect chairfill:* DOM events on the host page and give it a dataLayer."""
    page.add_init_script("""
        if (window.top === window) {
          window.dataLayer = [];
          window.__events = [];
          ["widget_opened", "service_selected", "booking_completed"].forEach(function (name) {
            document.addEventListener("chairfill:" + name, function (event) {
              window.__events.push({type: event.type, detail: event.detail,
                                    target: event.target.getAttribute("data-chairfill-widget")
                                            || event.target.getAttribute("data-chairfill-button")});
            });
          });
        }
    """)


def iframe_height(page):
    return page.locator("[data-chairfill-widget] iframe").evaluate("f => f.offsetHeight")


def test_inline_iframe_gets_the_host_pages_url_parameters_and_ad_cookies(page, live_server, widget):
    page.context.add_cookies(
        [
            {"name": "_gcl_aw", "value": "GCL.1700000000.TEST123", "url": live_server.url},
            {"name": "_fbp", "value": "fb.1.1700000000.42", "url": live_server.url},
            {"name": "sessionid", "value": "not-an-ad-cookie", "url": live_server.url},
        ]
    )
    landing = (
        "/host/inline/?utm_source=google&utm_medium=cpc&utm_campaign=winter+sale&gclid=TEST123"
    )
    page.goto(landing)

    iframe = page.locator("[data-chairfill-widget=lumenweb] iframe")
    expect(iframe).to_have_attribute("title", "Book an appointment with Lumen Salon")
    src = urlsplit(iframe.get_attribute("src"))
    assert f"{src.scheme}://{src.netloc}{src.path}" == settings.SITE_URL + "/b/lumen/lumenweb/"

    query = received_query(page)
    assert query["embed"] == ["inline"]
    assert query["cf_host"] == [live_server.url + landing]
    assert query["cf_ref"] == [""]
    assert query["utm_source"] == ["google"]
    assert query["utm_campaign"] == ["winter sale"]
    assert query["gclid"] == ["TEST123"]
    assert json.loads(query["cf_ck"][0]) == {
        "_gcl_aw": "GCL.1700000000.TEST123",
        "_fbp": "fb.1.1700000000.42",
    }
    first_touch = json.loads(query["cf_ft"][0])
    assert first_touch["url"] == live_server.url + landing
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", first_touch["ts"])


def test_the_first_campaign_visit_is_kept_when_the_guest_returns_directly(
    page, live_server, widget
):
    page.goto("/host/inline/")
    assert "cf_ft" not in received_query(page)  # a direct visit is no touch

    page.goto("/host/inline/?utm_source=newsletter&utm_medium=email")
    page.goto("/host/inline/?utm_source=google&gclid=LATER")  # a later campaign overwrites nothing
    page.goto("/host/inline/")
    query = received_query(page)
    assert "utm_source" not in query and "cf_ck" not in query
    first_touch = json.loads(query["cf_ft"][0])
    assert (
        first_touch["url"]
        == live_server.url + "/host/inline/?utm_source=newsletter&utm_medium=email"
    )


def test_a_long_host_url_is_cut_to_a_safe_length(page, widget):
    page.goto("/host/inline/?utm_source=google&" + "&".join(f"p{i}={'x' * 600}" for i in range(20)))
    iframe = page.locator("[data-chairfill-widget] iframe")
    assert len(iframe.get_attribute("src")) <= 6000
    query = received_query(page)
    assert query["utm_source"] == ["google"]
    assert len(query["p0"][0]) == 500


def test_iframe_follows_the_height_of_its_content(page, widget):
    page.goto("/host/inline/")
    frame = funnel_frame(page)
    frame.evaluate("document.getElementById('filler').style.height = '1500px'")
    page.wait_for_function(
        "() => document.querySelector('[data-chairfill-widget] iframe').offsetHeight > 1500"
    )
    # The guest scrolls down the long step; the next step brings the widget's top back.
    page.evaluate("""() => {
        const below = document.createElement("div");  // the rest of the host page
        below.style.height = "3000px";
        document.body.append(below);
    }""")
    page.mouse.wheel(0, 1200)
    page.wait_for_function("() => window.scrollY > 1000")
    frame.evaluate("""() => {
        document.getElementById("filler").style.height = "0px";
        document.body.dispatchEvent(new CustomEvent("htmx:afterSettle", {bubbles: true}));
    }""")
    page.wait_for_function(
        "() => document.querySelector('[data-chairfill-widget] iframe').offsetHeight < 400"
    )
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-chairfill-widget]')"
        ".getBoundingClientRect().top) < 2"
    )


def test_funnel_events_become_dom_events_and_data_layer_pushes(page, widget):
    record_events(page)
    page.goto("/host/inline/")
    frame = funnel_frame(page)
    page.wait_for_function("() => window.__events.length === 1")

    frame.evaluate("""() => {
        const marker = document.createElement("div");
        marker.hidden = true;
        marker.setAttribute("data-chairfill-event", "service_selected");
        marker.setAttribute("data-detail", '{"service": "Balayage", "center": "SoHo"}');
        document.body.append(marker);
        document.body.dispatchEvent(new CustomEvent("htmx:afterSettle", {bubbles: true}));
        // A second swap sends nothing twice.
        document.body.dispatchEvent(new CustomEvent("htmx:afterSettle", {bubbles: true}));
    }""")
    page.wait_for_function("() => window.__events.length === 2")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__events") == [
        {"type": "chairfill:widget_opened", "detail": {"widget": "lumenweb"}, "target": "lumenweb"},
        {
            "type": "chairfill:service_selected",
            "detail": {"service": "Balayage", "center": "SoHo"},
            "target": "lumenweb",
        },
    ]
    assert page.evaluate("window.dataLayer") == [
        {"event": "chairfill.widget_opened", "chairfill": {"widget": "lumenweb"}},
        {
            "event": "chairfill.service_selected",
            "chairfill": {"service": "Balayage", "center": "SoHo"},
        },
    ]


def test_messages_from_another_origin_or_another_frame_are_ignored(page, live_server, widget):
    record_events(page)
    page.goto("/host/inline/")
    funnel_frame(page)
    page.wait_for_function("() => window.__events.length === 1")
    height = iframe_height(page)

    # The host page's own scripts (another origin than our site's).
    page.evaluate("""() => {
        window.postMessage({type: "chairfill:resize", height: 3000}, "*");
        window.postMessage({type: "chairfill:booking_completed", detail: {}}, "*");
    }""")
    # A frame of our site's origin that is not the widget's iframe: its funnel.js posts
    # widget_opened to the host, and it posts a resize of its own.
    rogue_src = (
        f"{settings.SITE_URL}/b/lumen/lumenweb/?embed=1&cf_host={live_server.url}/host/inline/"
    )
    page.evaluate(
        """src => {
            const rogue = document.createElement("iframe");
            rogue.id = "rogue";
            rogue.src = src;
            document.body.append(rogue);
        }""",
        rogue_src,
    )
    rogue = page.locator("#rogue").element_handle().content_frame()
    rogue.wait_for_load_state()
    rogue.evaluate("window.parent.postMessage({type: 'chairfill:resize', height: 2500}, '*')")
    # The widget's own iframe, navigated away to a page of another origin (the host's).
    funnel_frame(page).evaluate(
        "url => { location.href = url; }",
        f"{live_server.url}/b/lumen/lumenweb/?embed=1&cf_host={live_server.url}/host/inline/",
    )
    page.wait_for_function(
        """() => {
            const frame = document.querySelector("[data-chairfill-widget] iframe");
            try { return frame.contentDocument.readyState === "complete"; } catch (e) { return false; }
        }"""
    )
    funnel_frame(page).evaluate(
        "window.parent.postMessage({type: 'chairfill:resize', height: 2000}, '*')"
    )
    page.wait_for_timeout(500)

    assert [e["type"] for e in page.evaluate("window.__events")] == ["chairfill:widget_opened"]
    assert iframe_height(page) == height


def test_funnel_fills_the_time_zone_and_counts_the_hold_down(page, widget):
    page.goto(f"{settings.SITE_URL}/b/lumen/lumenweb/")  # the direct link: no parent to post to
    zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    expect(page.locator("input[name=tz]")).to_have_value(zone)
    expect(page.locator("#hold")).to_have_text(re.compile(r"0?9:[23]\d"))
    expect(page.locator("#lapsed")).to_have_text("Hold lapsed")


def test_popup_button_opens_a_dialog_with_the_funnel(page, widget, shot):
    record_events(page)
    page.goto("/host/popup/")
    assert page.locator("iframe").count() == 0  # nothing loads before the guest asks

    button = page.get_by_role("button", name="Book your chair")
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Book an appointment with Lumen Salon")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    frame = funnel_frame(page)
    assert json.loads(frame.locator("#query").text_content())["embed"] == ["popup"]
    page.wait_for_function("() => window.__events.length === 1")
    assert page.evaluate("window.__events[0].target") == "lumenweb"  # raised on the button
    box = page.locator("dialog iframe").bounding_box()
    viewport = page.viewport_size
    if page.viewport_name == "phone":
        assert box["width"] == viewport["width"]
        assert box["height"] > viewport["height"] - 80
    else:
        assert 500 <= box["width"] <= 560
    shot(page, "embed-popup")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    # Reopening shows the same funnel page: the booking in progress is kept.
    frame.evaluate("window.__marker = 1")
    button.click()
    expect(dialog).to_be_visible()
    assert funnel_frame(page).evaluate("window.__marker") == 1
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_sandbox_host_page_lists_the_widgets_events(page, live_server, settings, org, shot):
    settings.SITE_URL = live_server.url  # the demo: host page and widget on one site
    Widget.objects.create(
        organization=org,
        name="Website",
        code="lumenweb",
        button_text="Book your chair",
        allowed_origins=[live_server.url],
    )
    page.goto("/sandbox/host/")
    page.get_by_role("link", name="Google Ads click").click()
    query = received_query(page)
    assert (query["utm_source"], query["gclid"]) == (["google"], ["TEST123"])
    log = page.locator("#events-log")
    expect(log.locator("[data-event='chairfill:widget_opened']")).to_have_count(1)
    expect(log.locator("[data-datalayer='chairfill.widget_opened']")).to_have_count(1)
    expect(page.locator("#first-touch-status")).to_contain_text("gclid=TEST123")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "sandbox-host")

    page.get_by_role("link", name="Direct visit").click()
    query = received_query(page)
    assert "gclid" not in query
    assert "gclid=TEST123" in json.loads(query["cf_ft"][0])["url"]

    page.get_by_role("button", name="Book your chair").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(log.locator("[data-event='chairfill:widget_opened']")).to_have_count(2)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Forget the stored visits").click()
    expect(page.locator("#first-touch-status")).to_have_text("No first visit stored.")
