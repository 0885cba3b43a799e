"""Member pages of bookings: every booking a guest began, newest first, with where it came
from; and one booking with its first and last touch, its funnel events and the webhook
deliveries of its events. Everyone in the organization can look; the guest's email and
phone are for managers and owners."""

from datetime import datetime
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import CharField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.views.decorators.http import require_GET

from attribution.models import FunnelEvent, WebhookDelivery
from attribution.payloads import attribution
from booking.models import BookingSession, BookingState
from tenants.access import org_member_required, org_object
from tenants.models import Role

PAGE_SIZE = 50
DIRECT = "(direct)"  # the source filter's value for bookings without a non-direct touch
STATE_BADGES = {
    BookingState.CONFIRMED: "badge-success",
    BookingState.FAILED: "badge-danger",
    BookingState.HELD: "badge-primary",
    BookingState.AWAITING_PAYMENT: "badge-warning",
    BookingState.DETAILS: "badge-primary",
}
TOUCH_PARTS = (
    ("Landing page", "landing_url"),
    ("Host page", "host_url"),
    ("Referrer", "referrer"),
)


def _bookings(organization):
    """The organization's sessions in which the guest began a booking (gave their details)."""
    return (
        BookingSession.objects.filter(organization=organization, started_at__isnull=False)
        .select_related("center")
        # As plain text ('' for none): KT's own lookups would compare JSON values.
        .annotate(source=Coalesce(KT("last_touch__source"), Value(""), output_field=CharField()))
    )


def _sources(bookings):
    names = bookings.exclude(source="").order_by("source").values_list("source", flat=True)
    return [DIRECT, *names.distinct()]


def duration_text(seconds):
    """A lag in the largest two units that matter: "3 days 4 h", "2 h 5 min", "40 s"."""
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@org_member_required()
@require_GET
def booking_list(request, organization):
    bookings = _bookings(organization)
    sources = _sources(bookings)
    state = request.GET.get("state", "")
    source = request.GET.get("source", "")
    if state in BookingState.values:
        bookings = bookings.filter(state=state)
    else:
        state = ""
    if source == DIRECT:
        bookings = bookings.filter(source="")
    elif source in sources:
        bookings = bookings.filter(source=source)
    else:
        source = ""
    page = Paginator(bookings.order_by("-started_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for session in page:
        session.state_badge = STATE_BADGES.get(session.state, "")
    query = {name: value for name, value in (("state", state), ("source", source)) if value}
    ctx = {
        "nav": "bookings",
        "page": page,
        "states": BookingState.choices,
        "sources": sources,
        "state": state,
        "source": source,
        "filtered": bool(query),
        "query": urlencode(query),
        "any_bookings": _bookings(organization).exists() if query else bool(page.object_list),
        "can_see_contact": request.access.can(Role.MANAGER),
    }
    template = "attribution/bookings/list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, ctx)


def _touch_view(touch):
    """A touch as the detail page shows it (None for no touch: a direct visit)."""
    if not touch:
        return None
    return {
        **touch,
        "urls": [(label, touch.get(key)) for label, key in TOUCH_PARTS if touch.get(key)],
        "params": sorted((touch.get("params") or {}).items()),
        "cookies": sorted((touch.get("cookies") or {}).items()),
        "at_time": _parse_at(touch.get("at")),
    }


def _parse_at(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


@org_member_required()
@require_GET
def booking_detail(request, organization, code):
    session = org_object(
        BookingSession.objects.select_related("center", "widget"), organization, code=code
    )
    session.state_badge = STATE_BADGES.get(session.state, "")
    events = list(
        FunnelEvent.objects.filter(organization=organization, session=session).order_by(
            "created_at", "pk"
        )
    )
    for event in events:
        event.offset = duration_text((event.created_at - events[0].created_at).total_seconds())
    deliveries = (
        WebhookDelivery.objects.filter(organization=organization, event__session=session)
        .select_related("event", "endpoint")
        .order_by("created_at", "pk")
    )
    facts = attribution(session)
    ctx = {
        "nav": "bookings",
        "session": session,
        "touches": [
            ("First touch", _touch_view(session.first_touch)),
            ("Last touch", _touch_view(session.last_touch)),
        ],
        "same_touch": bool(session.first_touch) and session.first_touch == session.last_touch,
        "lag": duration_text(facts["lag_seconds"]),
        "click_ids": sorted(facts["click_ids"].items()),
        "events": events,
        "deliveries": deliveries,
        "can_see_contact": request.access.can(Role.MANAGER),
    }
    return render(request, "attribution/bookings/detail.html", ctx)
