"""The bookings pages (attribution/views.py): the list with its filters, one booking with
its touches, events and webhook deliveries; tenancy and what a viewer may see."""

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from attribution.models import FunnelEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent
from booking.models import BookingSession, BookingState, Widget

# The funnel tests' fixtures (`widget` is one: the tests taking it say noqa: F811).
from tests.booking.conftest import in_process_zenoti, sandbox_center, sandbox_lumen  # noqa: F401
from tests.booking.test_public import lumen, widget  # noqa: F401

from .test_events import book

S = BookingState


def bookings_url(org, **query):
    return reverse("attribution-bookings", args=[org.slug])


def detail_url(session):
    return reverse("attribution-booking", args=[session.organization.slug, session.code])


def text(response):
    return html.unescape(response.content.decode())


def touch(source, medium, network="", campaign="", **extra):
    return {
        "at": timezone.now().isoformat(),
        "landing_url": f"https://salon.example/?utm_source={source}",
        "host_url": "https://salon.example/",
        "referrer": "",
        "params": {"utm_source": source, "utm_medium": medium},
        "cookies": {},
        "source": source,
        "medium": medium,
        "campaign": campaign,
        "network": network,
        "device": "mobile",
        "direct": False,
        **extra,
    }


@pytest.fixture
def plain_widget(org):
    return Widget.objects.create(organization=org, name="Website")


def a_booking(on, *, state=S.CONFIRMED, started=True, ago=0, last=None, **fields):
    now = timezone.now() - timedelta(minutes=ago)
    return BookingSession.objects.create(
        organization=on.organization,
        widget=on,
        state=state,
        started_at=now if started else None,
        first_name=fields.pop("first_name", "Nina"),
        last_name="Newcomb",
        email=fields.pop("email", "nina@example.com"),
        phone="+12125550199",
        service_name="Haircut",
        last_touch=last or {},
        first_touch=last or {},
        **fields,
    )


@pytest.fixture
def bookings(plain_widget):
    return {
        "google": a_booking(
            plain_widget, ago=30, last=touch("google", "cpc", "google", "spring"), first_name="Gia"
        ),
        "news": a_booking(
            plain_widget,
            state=S.FAILED,
            ago=20,
            last=touch("newsletter", "email"),
            first_name="Ned",
        ),
        "direct": a_booking(plain_widget, state=S.HELD, ago=10, first_name="Dora"),
        "browsing": a_booking(plain_widget, state=S.BROWSING, started=False, first_name="Bea"),
    }


def test_outsiders_get_404_on_both_pages(login, outsider, bookings):
    client = login(outsider)
    assert client.get(bookings_url(bookings["google"].organization)).status_code == 404
    assert client.get(detail_url(bookings["google"])).status_code == 404


def test_another_organizations_booking_is_a_404(login, owner, other_org):
    theirs = a_booking(Widget.objects.create(organization=other_org, name="Theirs"))
    response = login(owner).get(reverse("attribution-booking", args=["lumen", theirs.code]))
    assert response.status_code == 404


def test_the_list_shows_begun_bookings_newest_first_with_their_source(login, viewer, bookings):
    response = login(viewer).get(bookings_url(bookings["google"].organization))
    assert response.status_code == 200
    body = text(response)
    assert body.index("Dora") < body.index("Ned") < body.index("Gia")
    assert "Bea" not in body  # never gave their details
    assert "google" in body and "spring" in body and ">Google</span>" in body
    assert "newsletter" in body and "Direct" in body
    assert detail_url(bookings["google"]) in body


def test_a_viewer_sees_first_names_only_and_a_manager_the_contact(login, viewer, manager, bookings):
    session = bookings["google"]
    for url in (bookings_url(session.organization), detail_url(session)):
        assert "nina@example.com" not in text(login(viewer).get(url))
        assert "nina@example.com" in text(login(manager).get(url))
    assert "+12125550199" not in text(login(viewer).get(detail_url(session)))
    assert "Newcomb" not in text(login(viewer).get(detail_url(session)))
    assert "+12125550199" in text(login(manager).get(detail_url(session)))


@pytest.mark.parametrize(
    "query,shown",
    [
        ({"state": "failed"}, {"Ned"}),
        ({"state": "held"}, {"Dora"}),
        ({"source": "google"}, {"Gia"}),
        ({"source": "(direct)"}, {"Dora"}),
        ({"state": "confirmed", "source": "newsletter"}, set()),
        ({"state": "nonsense", "source": "nonsense"}, {"Gia", "Ned", "Dora"}),
    ],
)
def test_the_filters(login, viewer, bookings, query, shown):
    client = login(viewer)
    url = bookings_url(bookings["google"].organization)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, query, **headers)
        body = text(response)
        assert {name for name in ("Gia", "Ned", "Dora") if name in body} == shown
        if headers:
            assert "<html" not in body and 'id="bookings-results"' in body
    if not shown:
        assert "No bookings match" in body


def test_the_source_filter_offers_the_sources_of_this_organization_only(
    login, viewer, bookings, other_org
):
    theirs = Widget.objects.create(organization=other_org, name="Theirs")
    a_booking(theirs, last=touch("tiktok-secret", "paid"))
    body = text(login(viewer).get(bookings_url(bookings["google"].organization)))
    assert '<option value="newsletter"' in body and "tiktok-secret" not in body


def test_no_bookings_yet_says_how_they_arrive(login, viewer, org):
    body = text(login(viewer).get(bookings_url(org)))
    assert "No bookings yet" in body


def test_the_detail_shows_both_touches_events_and_deliveries(login, viewer, bookings):
    session = bookings["google"]
    session.first_touch = touch("newsletter", "email", referrer="https://mail.example/")
    session.first_touch_at = session.started_at - timedelta(days=3, hours=2)
    session.save()
    FunnelEvent.objects.create(
        organization=session.organization, session=session, widget=session.widget,
        name="booking_started",
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.create(
        organization=session.organization, url="https://hooks.example/in", event_types=["*"]
    )
    event = WebhookEvent.objects.create(
        organization=session.organization, type="booking_started", payload={}, session=session
    )
    WebhookDelivery.objects.create(
        organization=session.organization, event=event, endpoint=endpoint, last_status=204,
        state="succeeded", attempts=1,
    )  # fmt: skip
    body = text(login(viewer).get(detail_url(session)))
    assert "First touch" in body and "Last touch" in body
    assert "newsletter" in body and "https://mail.example/" in body
    assert "google" in body and "spring" in body
    assert "3 days 2 h" in body
    assert "Booking started" in body
    assert "https://hooks.example/in" in body and "Delivered" in body and "204" in body
    assert event.public_id in body


def test_a_direct_booking_says_so(login, viewer, bookings):
    body = text(login(viewer).get(detail_url(bookings["direct"])))
    assert "Direct: no ad, campaign link or other site brought the guest" in body


def test_a_booking_from_a_google_ad_shows_its_attribution(
    client,
    widget,  # noqa: F811
    login,
    viewer,
):
    """The issue's "done when", through the real funnel: ?utm_source=google&utm_medium=cpc
    &gclid=… shows on the booking in the dashboard."""
    session = book(client, widget, "?utm_source=google&utm_medium=cpc&gclid=CLICK-42")
    client.logout()
    response = login(viewer).get(detail_url(session))
    assert response.status_code == 200
    body = text(response)
    assert "<strong>google</strong>" in body and "/ cpc" in body and ">Google</span>" in body
    assert "<dt>gclid</dt><dd>CLICK-42</dd>" in body
    assert "Widget viewed" in body and "Booking completed" in body
    assert "First touch to booking" in body
    listing = text(login(viewer).get(bookings_url(widget.organization)))
    assert "Nina" in listing and "Confirmed" in listing and ">Google</span>" in listing
