"""Funnel events recorded by the guest's pages (booking/views/public.py) and the funnel
(booking/funnel.py): one row per step, each with the session's choices and attribution; a
failure to record never shows on the guest's page."""

import logging

import pytest

from attribution.models import FunnelEvent
from booking.models import BookingState

# The funnel tests' fixtures (`widget` is one: the tests taking it say noqa: F811).
from tests.booking.conftest import in_process_zenoti, sandbox_center, sandbox_lumen  # noqa: F401
from tests.booking.test_public import (  # noqa: F401
    GUEST,
    HTMX,
    TEN,
    begin,
    fresh,
    lumen,
    service_id,
    step_url,
    therapist_id,
    widget,
)

GOOGLE_ADS = "?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=TEST123"


def book(client, on, query=GOOGLE_ADS):
    """A guest clicks through widget `on` the way the page's htmx does, and books."""
    session, url = begin(client, on, query)
    assert client.get(url).status_code == 200  # the widget's first page
    client.post(url, {"service": service_id(session), "tz": "Europe/Paris"}, **HTMX)
    client.post(step_url(session, "provider"), {"provider": therapist_id(session)}, **HTMX)
    day = client.get(step_url(session, "time"), {"day": TEN.date().isoformat()}, **HTMX)
    assert day.status_code == 200
    client.post(step_url(session, "time"), {"start": TEN.isoformat()}, **HTMX)
    client.post(step_url(session, "details"), GUEST, **HTMX)
    done = client.post(step_url(session, "review"), **HTMX)
    assert done["HX-Push-Url"] == step_url(session, "done")
    session = fresh(session)
    assert session.state == BookingState.CONFIRMED
    return session


def test_every_step_of_a_booking_is_recorded_with_its_attribution(client, widget):  # noqa: F811
    session = book(client, widget)
    events = list(FunnelEvent.objects.filter(session=session).order_by("created_at", "pk"))
    assert [e.name for e in events] == [
        "widget_viewed",
        "service_selected",
        "provider_selected",
        "date_selected",
        "time_selected",
        "booking_started",
        "booking_completed",
    ]
    for event in events:
        assert event.organization_id == session.organization_id
        assert event.widget_id == session.widget_id
        assert event.center_id == session.center_id
        assert (event.source, event.medium, event.campaign, event.network) == (
            "google",
            "cpc",
            "spring",
            "google",
        )
    assert events[0].service_id == ""
    assert {e.service_id for e in events[1:]} == {session.service_id}
    assert events[1].therapist_id == ""
    assert {e.therapist_id for e in events[2:]} == {session.therapist_id}


def test_a_direct_visit_records_events_without_a_source(client, widget):  # noqa: F811
    session, url = begin(client, widget)
    client.get(url)
    event = FunnelEvent.objects.get(session=session)
    assert event.name == "widget_viewed"
    assert (event.source, event.medium, event.network) == ("", "", "")


def test_an_htmx_page_or_a_later_visit_to_the_first_step_is_no_new_view(
    client,
    widget,  # noqa: F811
):
    session, url = begin(client, widget)
    client.get(url, **HTMX)
    assert not FunnelEvent.objects.filter(session=session).exists()
    client.post(url, {"service": service_id(session)})
    client.get(url)  # back to the first step after choosing: not a fresh session
    assert list(FunnelEvent.objects.filter(session=session).values_list("name", flat=True)) == [
        "service_selected"
    ]


def test_a_failure_to_record_never_breaks_the_guests_page(
    client,
    widget,  # noqa: F811
    monkeypatch,
    caplog,
):
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(FunnelEvent.objects, "create", broken)
    with caplog.at_level(logging.ERROR, logger="attribution.events"):
        session = book(client, widget)
    assert session.state == BookingState.CONFIRMED
    assert not FunnelEvent.objects.exists()
    assert "Could not record funnel event widget_viewed" in caplog.text
    assert "Could not record funnel event booking_completed" in caplog.text


@pytest.mark.parametrize("name", ["service", "provider", "time"])
def test_a_choice_that_is_not_on_offer_records_nothing(client, widget, name):  # noqa: F811
    session, url = begin(client, widget)
    client.post(url, {"service": service_id(session)})
    if name != "service":
        client.post(step_url(session, "provider"), {"provider": therapist_id(session)})
    if name == "time":
        FunnelEvent.objects.all().delete()
        response = client.post(step_url(session, "time"), {"start": "not a time"})
    else:
        FunnelEvent.objects.all().delete()
        response = client.post(step_url(session, name), {name: "nope"})
    assert response.status_code == 400
    assert not FunnelEvent.objects.exists()
