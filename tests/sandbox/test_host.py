"""The example host page, /sandbox/host/: a made-up salon website embedding the demo widget."""

import re

import pytest
from django.conf import settings

from booking.embed import normalise_origin
from booking.models import Widget


@pytest.fixture
def widget(org):
    return Widget.objects.create(
        organization=org,
        name="Website",
        code="lumenweb",
        allowed_origins=["http://testserver"],
    )


def test_host_page_embeds_the_demo_widget_inline_and_as_a_popup(client, widget):
    response = client.get("/sandbox/host/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/w/lumenweb.js" data-mode="inline" defer></script>' in html
    assert '<script src="/w/lumenweb.js" data-mode="popup" defer></script>' in html
    assert '<div class="widget-frame" data-chairfill-widget="lumenweb">' in html
    # Without JavaScript the placeholder is a link to the booking page.
    assert 'href="/b/lumen/lumenweb/"' in html
    assert 'id="events-log"' in html
    assert 'role="alert"' not in html


def test_host_page_links_to_itself_with_campaign_parameters_and_directly(client, widget):
    html = client.get("/sandbox/host/").content.decode()
    assert (
        'href="/sandbox/host/?utm_source=google&amp;utm_medium=cpc&amp;utm_campaign=winter'
        '&amp;gclid=TEST123"' in html
    )
    assert re.search(r'<a href="/sandbox/host/" data-direct>Direct visit</a>', html)


def test_host_page_has_no_inline_script_and_keeps_the_sites_policy(client, widget):
    response = client.get("/sandbox/host/")
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all(" src=" in attributes for attributes in scripts)
    assert "style=" not in html
    policy = response.headers["Content-Security-Policy"]
    # Only framing gets an exception: our funnel, on this origin or on SITE_URL's.
    assert "default-src 'self'" in policy and "child-src" not in policy
    assert f"frame-src 'self' {normalise_origin(settings.SITE_URL)}" in policy
    assert "frame-ancestors 'none'" in policy


def test_host_page_explains_a_missing_demo_widget(client, db):
    response = client.get("/sandbox/host/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "make demo" in html and "seed_demo" in html
    assert "/w/" not in html


def test_host_page_explains_a_switched_off_widget(client, widget):
    Widget.objects.filter(pk=widget.pk).update(enabled=False)
    html = client.get("/sandbox/host/").content.decode()
    assert "switched off" in html


def test_host_page_warns_when_its_address_may_not_frame_the_widget(client, widget):
    Widget.objects.filter(pk=widget.pk).update(allowed_origins=["http://localhost:8000"])
    html = client.get("/sandbox/host/").content.decode()
    assert "may not show the widget" in html
    assert "<code>http://testserver</code>" in html
    assert "<code>http://localhost:8000</code>" in html
