"""Webhook and Bookings pages in a real Chromium, at a phone and a desktop width: a manager adds
an endpoint pointing at the sandbox's receiver (on the live server itself), sees its secret once
and sends a test event that arrives verified; a viewer looks without changing anything; an owner
reads where a booking made through the funnel came from."""

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from attribution.models import WebhookEndpoint
from booking.models import BookingSession, BookingState, Widget
from sandbox.models import ReceivedWebhook
from tenants.management.commands.seed_demo import DEMO_PASSWORD
from tests.conftest import PASSWORD
from tests.e2e.conftest import htmx_settled, sign_in

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


@pytest.fixture
def receiver_url(live_server, settings):
    # The receiver is on this very server (127.0.0.1): let the sender call it.
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return f"{live_server.url}/sandbox/receiver/"


def test_manager_adds_an_endpoint_and_its_test_event_arrives_verified(
    page, shot, org, manager, receiver_url
):
    sign_in(page, manager.email, PASSWORD)
    page.goto(f"/app/{org.slug}/webhooks/")
    expect(page.get_by_role("heading", name="Send bookings to your other tools")).to_be_visible()
    shot(page, "webhooks-empty")

    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("Endpoint URL").fill(receiver_url)
    page.get_by_label("Description").fill("Sandbox receiver")
    page.get_by_label("Booking started").check()
    page.get_by_label("Booking completed").check()
    shot(page, "webhook-add")
    page.get_by_role("button", name="Add endpoint").click()

    # The secret, once.
    expect(
        page.get_by_role("heading", name="Endpoint added: copy its signing secret")
    ).to_be_visible()
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert endpoint.url == receiver_url
    assert endpoint.event_types == ["booking_started", "booking_completed"]
    assert endpoint.secret.startswith("whsec_")
    expect(page.locator("#webhook-secret")).to_have_text(endpoint.secret)
    shot(page, "webhook-secret")

    page.get_by_role("link", name=re.compile("send a test event")).click()
    expect(page.get_by_role("heading", name="Webhook endpoint")).to_be_visible()
    expect(page.get_by_label("Endpoint URL")).to_have_value(receiver_url)
    assert endpoint.secret not in page.content()
    assert not SECRET.search(page.content())

    # Q_SYNC: the delivery runs in the server thread as the test event commits.
    page.get_by_role("button", name="Send test event").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Delivered", timeout=10_000)
    expect(result.locator(".badge-success").last).to_have_text("204")  # the receiver's answer
    htmx_settled(page)
    shot(page, "webhook-tested")

    page.get_by_role("link", name="Deliveries", exact=True).click()
    expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    row = page.locator("#delivery-results tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("Delivered")
    expect(row).to_contain_text("204")
    shot(page, "webhook-deliveries")

    page.goto("/sandbox/receiver/")
    expect(page.get_by_role("heading", name="Webhook receiver")).to_be_visible()
    received = page.locator("tbody tr")
    expect(received).to_have_count(1)
    expect(received).to_contain_text("webhook.test")
    expect(received.get_by_text("Verified", exact=True)).to_be_visible()
    shot(page, "webhook-receiver")
    hook = ReceivedWebhook.objects.get()
    assert hook.verified, hook.verify_error


def test_viewer_sees_webhooks_and_bookings_read_only(page, shot, org, viewer, receiver_url):
    WebhookEndpoint.objects.create(
        organization=org, url=receiver_url, event_types=["booking_completed"]
    )
    widget = Widget.objects.create(organization=org, name="Website")
    BookingSession.objects.create(
        organization=org,
        widget=widget,
        state=BookingState.CONFIRMED,
        started_at=timezone.now(),
        first_name="Gia",
        email="gia@example.com",
        service_name="Haircut",
        last_touch={"source": "google", "medium": "cpc"},
    )
    sign_in(page, viewer.email, PASSWORD)
    page.goto(f"/app/{org.slug}/webhooks/")
    expect(page.get_by_role("link", name=receiver_url, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^View"))).to_be_visible()
    expect(page.get_by_role("link", name="Add endpoint")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Turn off"))).to_have_count(0)
    shot(page, "webhooks-viewer")

    page.get_by_role("link", name=re.compile("^View")).click()
    expect(page.get_by_text("You can look at this endpoint")).to_be_visible()
    expect(page.get_by_label("Endpoint URL")).to_be_disabled()
    expect(page.get_by_role("button", name="Send test event")).to_have_count(0)
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(page.get_by_role("link", name="Rotate secret")).to_have_count(0)
    shot(page, "webhook-viewer")

    page.goto(f"/app/{org.slug}/bookings/")
    expect(page.get_by_role("heading", name="Bookings")).to_be_visible()
    expect(page.get_by_role("link", name="Gia")).to_be_visible()
    expect(page.locator("#bookings-results")).to_contain_text("google")
    assert "gia@example.com" not in page.content()  # contact details are for managers
    expect(page.get_by_role("link", name=re.compile("^(Add|Create|New)"))).to_have_count(0)
    shot(page, "bookings-viewer")


@pytest.fixture
def demo(live_server, settings):
    """`make demo`'s data; the centers call the sandbox on the live server over real HTTP."""
    settings.SITE_URL = live_server.url
    settings.ZENOTI_TRANSPORT = None
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the demo's endpoint: the sandbox receiver
    call_command("seed_demo", stdout=io.StringIO())


def on_step(page, heading):
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    htmx_settled(page)


def book_from_a_google_ad(page):
    """The direct link with a Google ad's parameters, through to a confirmed booking."""
    page.goto("/b/lumen/lumenweb/?utm_source=google&utm_medium=cpc&gclid=E2E1")
    on_step(page, "Choose a location")
    page.get_by_role("button", name=re.compile("Lumen SoHo")).click()
    on_step(page, "Choose a service")
    page.get_by_role("button", name=re.compile("Men's Haircut")).click()
    on_step(page, "Who would you like to see?")
    page.get_by_role("button", name=re.compile("Anyone available")).click()
    on_step(page, "Choose a date and time")
    page.locator(".strip .day:not([disabled]):not(.is-selected)").last.click()
    expect(page.locator(".strip .day.is-selected")).to_have_count(1)
    on_step(page, "Choose a date and time")
    page.locator(".chip input").first.check()
    page.get_by_role("button", name="Continue", exact=True).click()
    on_step(page, "Your details")
    page.get_by_label("First name", exact=True).fill("Ezra")
    page.get_by_label("Last name", exact=True).fill("Tester")
    page.get_by_label("Email", exact=True).fill("ezra.tester@example.com")
    page.get_by_label("Mobile phone", exact=True).fill("(212) 555-0177")
    page.get_by_role("button", name="Continue", exact=True).click()
    on_step(page, "Review and book")
    page.get_by_role("button", name="Book now", exact=True).click()
    on_step(page, "You're booked")


def test_owner_sees_where_a_booking_came_from(page, shot, demo):
    book_from_a_google_ad(page)
    session = BookingSession.objects.get(email="ezra.tester@example.com")
    assert session.state == BookingState.CONFIRMED

    page.context.clear_cookies()
    sign_in(page, "owner@lumen.example", DEMO_PASSWORD)
    page.goto("/app/lumen/bookings/")
    expect(page.get_by_role("heading", name="Bookings")).to_be_visible()
    shot(page, "bookings-owner")
    page.get_by_role("link", name="Ezra").click()

    expect(page.get_by_role("heading", name=re.compile("^Ezra"))).to_be_visible()
    source = page.locator(".touches")
    expect(source).to_contain_text("google")
    expect(source).to_contain_text("cpc")
    expect(source).to_contain_text("gclid")
    expect(source).to_contain_text("E2E1")
    expect(page.locator(".click-ids")).to_contain_text("gclid")
    # The demo's endpoint (the sandbox receiver) got booking_started and booking_completed.
    deliveries = page.locator(".deliveries-table")
    expect(deliveries).to_contain_text("booking_started")
    expect(deliveries).to_contain_text("booking_completed")
    shot(page, "booking-detail")
