"""The guest funnel at /b/<org>/<widget>/…: one view per step, each answering the full page or,
for htmx, the page's `#step` partial (the same template).

No cookies, ever: the funnel runs inside salons' sites as a third-party iframe, where browsers
may block them. The session travels in the URL instead, and its 128-bit random code is also
the CSRF defence of the (csrf_exempt) POST views: a forged form would have to know it.
"""

import hashlib
import json
import re
import zoneinfo
from datetime import date, datetime, timedelta
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import push_url

# As funnel_events: the views' own `events` are the host page's.
from attribution import events as funnel_events
from booking import embed, funnel
from booking.forms import DetailsForm, FunnelTimezoneField
from booking.models import BookingSession, BookingState, Widget
from booking.zenoti.errors import ZenotiError
from tenants.models import color_validator

S = BookingState
STEPS = ("center", "service", "provider", "time", "details", "review", "pay", "done")
TITLES = {
    "center": "Choose a location",
    "service": "Choose a service",
    "provider": "Who would you like to see?",
    "time": "Choose a date and time",
    "details": "Your details",
    "review": "Review and book",
    "pay": "Payment",
    "done": "You're booked",
}
# Sandbox and US salons price in dollars; Zenoti's currency ids are not mapped (yet).
CURRENCY, CURRENCY_SYMBOL = "USD", "$"
STRIP_DAYS = 14  # the calendar strip; Zenoti's future_days covers the 14 days after a date
HORIZON_DAYS = 90  # how far ahead guests may look
DEFAULT_BRAND, DEFAULT_ACCENT, MAX_RADIUS = "#7c3aed", "#f59e0b", 28
# The words the host page's analytics get for a failure: no free text, no personal data.
FAILURE_REASONS = {
    funnel.TAKEN: "time_taken",
    funnel.HOLD_LOST: "hold_lost",
    funnel.BUSY: "busy",
    funnel.UNREACHABLE: "unreachable",
    funnel.UNCERTAIN: "uncertain",
    funnel.UNAVAILABLE: "unavailable",
    funnel.REFUSED: "refused",
    funnel.STILL_WORKING: "still_working",
    funnel.DECLINED: "payment_declined",
    funnel.NOT_PAID: "payment_not_completed",
    funnel.PAID_BUT_LOST: "paid_but_lost",
}


# A choice that is not (or no longer) on offer.
_PICK = {
    "center": "Please choose a location.",
    "service": "Please choose a service.",
    "provider": "Please choose who you'd like to see, or “Anyone available”.",
    "time": "Please choose a time.",
}


# --- lookups and the decorator every step view wears -------------------------------------


def _bookable(widget):
    return widget.enabled and widget.organization.is_active


def _session(org, widget, code):
    """The session, found with its organization and widget in the lookup: a session of another
    organization (or widget) is a 404 like a code that does not exist."""
    try:
        session = BookingSession.objects.select_related("widget", "center", "organization").get(
            organization__slug=org, widget__code=widget, code=code
        )
    except BookingSession.DoesNotExist:
        raise Http404("No such booking session.") from None
    session.widget.organization = session.organization  # the same row: save a query
    return session


def _finish(response, widget):
    """Headers of every funnel response: frame-ancestors for the widget's sites, never cached
    (pages carry the guest's details, and the htmx partial shares its URL with the page)."""
    embed.apply_embed_headers(response, widget)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ("HX-Request",))
    return response


def funnel_view(step):
    """Look the session up, answer a friendly 404 when the widget is off, send the guest to
    the step they may be on when `step` is not reachable (yet, or any more), show a friendly
    retry page when Zenoti can't be reached, and add the funnel's headers."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, org, widget, session):
            session = _session(org, widget, session)
            if not _bookable(session.widget):
                return _finish(_unavailable(request, session.widget), session.widget)
            flow = _flow(session)
            if step is not None:
                allowed = _allowed_step(session, step, flow)
                if allowed != step:
                    return _finish(_go(request, session, allowed, flow=flow), session.widget)
            try:
                response = view(request, session, flow)
            except ZenotiError as exc:
                response = _render(request, session, step or "service", flow, status=503, error=exc)
            return _finish(response, session.widget)

        return wrapper

    return decorate


def _flow(session):
    """The steps this guest goes through, in order."""
    centers = funnel.offered_centers(session.widget)
    steps = ["center"] if len(centers) > 1 or session.center_id is None else []
    steps.append("service")
    if session.widget.allow_provider_choice:
        steps.append("provider")
    steps += ["time", "details", "review"]
    if session.center is not None and session.center.payment_required:
        steps.append("pay")
    steps.append("done")
    return steps


def _allowed_step(session, step, flow):
    """`step` when the guest may see it: any step up to the current one while choosing (going
    back shows the earlier choice); only the payment page while paying; only the end page
    once the session has ended."""
    current = funnel.current_step(session)
    if current in ("pay", "done") or step not in flow:
        return current
    return step if flow.index(step) <= flow.index(current) else current


def _url(session, name):
    kwargs = {"org": session.organization.slug, "widget": session.widget.code}
    return reverse(name, kwargs={**kwargs, "session": session.code})


def _step_url(session, step):
    return _url(session, f"booking-step-{step}")


def _start_url(widget, landing=None):
    """A new booking through the same widget (keeping the embed facts, not the session)."""
    url = reverse(
        "booking-funnel-start", kwargs={"org": widget.organization.slug, "widget": widget.code}
    )
    landing = landing or {}
    query = {"embed": landing["embed"]} if landing.get("embed") else {}
    if landing.get("cf_host"):
        query["cf_host"] = landing["cf_host"]
    return f"{url}?{urlencode(query)}" if query else url


def _unavailable(request, widget):
    """The friendly 404 of a switched-off widget or a suspended organization."""
    ctx = {
        "org": widget.organization,
        "widget": widget,
        "title": f"Online booking isn't available · {widget.organization.public_name}",
        "theme_url": _theme_url(widget),
        "embedded": funnel.EMBED_MODES.get(request.GET.get("embed"), ""),
        "site_url": settings.SITE_URL,
    }
    return render(request, "booking/funnel/unavailable.html", ctx, status=404)


# --- rendering a step --------------------------------------------------------------------


def _render(request, session, step, flow, *, status=200, events=(), problem="", **extra):
    """The step's page, or its #step partial for htmx (except a history restore, which swaps
    the whole body)."""
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    focus_heading = extra.pop("focus_heading", True) and partial
    taken = funnel.take_problem(session)
    ctx = {
        "org": session.organization,
        "widget": session.widget,
        "session": session,
        "step": step,
        "flow": flow,
        "urls": {name: _step_url(session, name) for name in STEPS},
        "ics_url": _url(session, "booking-ics"),
        "problem": problem or taken,
        "events": list(events),
        "partial": partial,
        # Moving to another step by htmx: focus its heading, so screen readers say where they
        # are (a full page load starts at the top anyway).
        "focus_heading": focus_heading,
        "embedded": _embedded(request, session),
        "pinned_origin": embed.pinned_origin(session.widget, session.landing.get("cf_host", "")),
        "theme_url": _theme_url(session.widget),
        "tz": session.guest_timezone,
        "summary": _summary(session),
        "site_url": settings.SITE_URL,
        **_progress(step, flow),
    }
    ctx.update(extra)
    ctx["back_url"] = ctx["urls"][ctx["back_step"]] if ctx.get("back_step") else ""
    if "error" in ctx:
        ctx["title"] = f"Please try again · {session.organization.public_name}"
        template = "booking/funnel/error.html"
    else:
        ctx.update(STEP_CONTEXT[step](request, session, ctx))
        ctx.setdefault("heading", TITLES[step])
        ctx["title"] = f"{ctx['heading']} · {session.organization.public_name}"
        template = f"booking/funnel/{step}.html"
    if partial:
        template += "#step"
        # htmx swaps only 2xx answers, and the browser's console reports every 4xx/5xx one
        # as an error: the partial says what went wrong itself.
        status = 200
    return render(request, template, ctx, status=status)


def _go(request, session, step, *, flow=None, events=(), problem="", day=None):
    """After a choice: the next step. htmx gets the step's partial at once, with its URL pushed
    to the address bar (one round trip); a plain form post gets a 303 to it. `day`: the time
    step opens on that day."""
    flow = flow or _flow(session)
    url = _step_url(session, step)
    extra = {}
    if day is not None:
        url += f"?{urlencode({'day': day.isoformat()})}"
        extra["show_day"] = day
    if request.htmx:
        response = _render(request, session, step, flow, events=events, problem=problem, **extra)
        return push_url(response, url)
    if problem and session.problem != problem:
        # The funnel did not keep this message for the next page: show it here instead of
        # losing it (the form posts to its own step's URL, so the page still works).
        return _render(request, session, step, flow, problem=problem, **extra)
    return _see_other(url)


def _see_other(url):
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def _embedded(request, session):
    """ "inline" or "popup" when shown inside the salon's iframe: the loader asked for it, and
    the browser does not say this is a top-level page (the payment return is: the guest paid
    in the top window); else ""."""
    mode = session.landing.get("embed") or ""
    if not mode or request.headers.get("Sec-Fetch-Dest", "iframe") == "document":
        return ""
    return mode


def _progress(step, flow):
    shown = [s for s in flow if s != "done"]
    if step not in shown:
        return {"step_number": 0, "step_count": len(shown), "back_step": None}
    index = shown.index(step)
    back = shown[index - 1] if index > 0 and step != "pay" else None
    return {"step_number": index + 1, "step_count": len(shown), "back_step": back}


def _event(name, **detail):
    return {"name": name, "detail": json.dumps(detail, separators=(",", ":"))}


def _reason(problem):
    return FAILURE_REASONS.get(problem, "other")


# --- formatting ----------------------------------------------------------------------------


def duration_text(minutes):
    if not minutes:
        return ""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def money_text(amount):
    if amount is None:
        return ""
    if amount == amount.to_integral_value():
        return f"{CURRENCY_SYMBOL}{amount:,.0f}"
    return f"{CURRENCY_SYMBOL}{amount:,.2f}"


def _value(amount):
    return float(amount) if amount is not None else None


def time_text(moment):
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def day_text(day):
    return f"{day:%a} {day.day} {day:%b}"


def long_day_text(day):
    return f"{day:%A} {day.day} {day:%B}"


def zone_text(name):
    """The zone as guests say it: America/New_York is "New York time"."""
    return name.rsplit("/", 1)[-1].replace("_", " ") + " time"


def _initials(name):
    letters = [part[0] for part in name.split() if part[:1].isalpha()]
    return "".join(letters[:2]).upper() or "?"


def _summary(session):
    """The guest's choices so far, for the line under each step's heading."""
    parts = []
    if session.service_name:
        parts.append(session.service_name)
    if session.provider_chosen and session.therapist_name:
        parts.append(f"with {session.therapist_name}")
    if session.local_start:
        parts.append(f"{day_text(session.local_start)}, {time_text(session.local_start)}")
    return parts


# --- what each step shows ------------------------------------------------------------------


def _center_ctx(request, session, ctx):
    centers = funnel.offered_centers(session.widget)
    return {
        "centers": [
            {
                "code": c.code,
                "name": c.name,
                "zone": zone_text(c.timezone),
                "selected": c.pk == session.center_id,
                "initials": _initials(c.name),
            }
            for c in centers
        ]
    }


def _service_ctx(request, session, ctx):
    groups = {}
    chosen = session.service_id.lower()
    for service in funnel.offered_services(session):
        key = service.category_id or ""
        group = groups.setdefault(
            key, {"name": service.category_name or "Other services", "services": []}
        )
        group["services"].append(
            {
                "id": service.id,
                "name": service.name,
                "description": service.description,
                "duration": duration_text(service.duration),
                "price": money_text(service.price),
                "selected": service.id.lower() == chosen,
            }
        )
    extra = {"heading": session.widget.headline} if session.widget.headline else {}
    if ctx["flow"][0] == "center":
        extra["lede"] = f"At {session.center.name}"
    return {"groups": list(groups.values()), **extra}


def _provider_ctx(request, session, ctx):
    therapists = funnel.offered_therapists(session)
    chosen = session.therapist_id.lower() if session.provider_chosen else None
    return {
        "anyone_selected": session.provider_chosen and not session.therapist_id,
        "providers": [
            {
                "id": t.id,
                "name": t.name or f"{t.first_name} {t.last_name}".strip(),
                "job": t.job_name,
                "initials": _initials(t.name or f"{t.first_name} {t.last_name}"),
                "selected": t.id.lower() == chosen,
            }
            for t in therapists
        ],
    }


def _parse_day(value):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _guest_zone(request, session):
    tz = FunnelTimezoneField().clean(request.GET.get("tz") or session.guest_timezone)
    return zoneinfo.ZoneInfo(tz) if tz else None


def _zone_note(session, guest_zone, day):
    """How the times are to be read: always in the center's zone, said louder (with the
    difference) when the guest's browser is in another one."""
    center_zone = session.center_zone
    note = {"zone": zone_text(session.center.timezone), "differs": False}
    if guest_zone is None:
        return note
    noon = datetime.combine(day, datetime.min.time().replace(hour=12))
    center_offset = noon.replace(tzinfo=center_zone).utcoffset()
    guest_offset = noon.replace(tzinfo=center_zone).astimezone(guest_zone).utcoffset()
    difference = (center_offset - guest_offset).total_seconds() / 3600
    if difference:
        hours = abs(difference)
        amount = f"{hours:g} hour{'s' if hours != 1 else ''}"
        note.update(differs=True, ahead=difference > 0, amount=amount)
    return note


def _time_ctx(request, session, ctx):
    today = timezone.now().astimezone(session.center_zone).date()
    last = today + timedelta(days=HORIZON_DAYS)

    def within(day):
        return day if day is not None and today <= day <= last else None

    def window_of(day):
        return today + timedelta(days=STRIP_DAYS * ((day - today).days // STRIP_DAYS))

    asked = within(ctx.get("show_day") or _parse_day(request.GET.get("day")))
    week = within(_parse_day(request.GET.get("week")))
    chosen_before = session.local_start.date() if session.local_start else session.day
    day = asked or within(chosen_before) or today
    start = window_of(week or day)
    window = funnel.day_availability(session, start)
    open_days = set(window.open_days)
    if week:
        # A week arrow: the first day of that window with a free time.
        strip = [start + timedelta(days=n) for n in range(STRIP_DAYS)]
        day = next((d for d in strip if d in open_days), start)
    found = window if day == start else funnel.day_availability(session, day)
    if not found.times and not asked and not week and within(found.next_available_day):
        # Nothing free on the day we guessed: open the first day that has something.
        day = found.next_available_day
        start = window_of(day)
        window = funnel.day_availability(session, start)
        open_days = set(window.open_days)
        found = window if day == start else funnel.day_availability(session, day)
    open_days |= set(found.open_days)
    if found.times:
        open_days.add(day)
    else:
        open_days.discard(day)

    strip = []
    for n in range(STRIP_DAYS):
        d = start + timedelta(days=n)
        strip.append(
            {
                "iso": d.isoformat(),
                "dow": f"{d:%a}",
                "num": d.day,
                "month": f"{d:%b}" if n == 0 or d.day == 1 else "",
                "long": long_day_text(d),
                "open": d in open_days,
                "selected": d == day,
                "today": d == today,
            }
        )
    previous = start - timedelta(days=STRIP_DAYS)
    following = start + timedelta(days=STRIP_DAYS)

    selected = session.local_start
    periods = {"Morning": [], "Afternoon": [], "Evening": []}
    for moment in found.times:
        name = "Morning" if moment.hour < 12 else "Afternoon" if moment.hour < 17 else "Evening"
        periods[name].append(
            {
                "value": moment.isoformat(timespec="seconds"),
                "id": f"t-{moment:%H%M}",
                "label": time_text(moment),
                "selected": moment == selected,
            }
        )
    next_day = within(found.next_available_day) if not found.times else None
    events = list(ctx["events"])
    if request.GET.get("day") and ctx["partial"]:  # the guest picked a day in the strip
        events.append(_event("date_selected", date=day.isoformat()))
        funnel_events.record(session, "date_selected")
    guest_zone = _guest_zone(request, session)
    return {
        "day": day,
        "day_label": long_day_text(day),
        "month_label": f"{start:%B %Y}",
        "strip": strip,
        "previous_week": previous.isoformat() if previous >= today else "",
        "next_week": following.isoformat() if following <= last else "",
        "periods": [{"name": k, "times": v} for k, v in periods.items() if v],
        "has_times": bool(found.times),
        "next_day": next_day,
        "next_day_label": day_text(next_day) if next_day else "",
        "zone_note": _zone_note(session, guest_zone, day),
        "events": events,
        "tz": guest_zone.key if guest_zone else "",
    }


def _details_ctx(request, session, ctx):
    form = ctx.get("form") or DetailsForm(initial=DetailsForm.initial_for(session))
    return {"form": form}


def _booking_facts(session):
    center = session.center
    facts = {
        "service": session.service_name,
        "duration": duration_text(session.duration_minutes),
        "price": money_text(session.price),
        "provider": session.therapist_name or "Anyone available",
        "center": center.name if center else "",
        "zone": zone_text(center.timezone) if center else "",
    }
    if session.local_start:
        facts["date"] = long_day_text(session.local_start)
        facts["time"] = time_text(session.local_start)
        facts["end"] = time_text(session.local_end) if session.local_end else ""
    return facts


def _review_ctx(request, session, ctx):
    return {
        "facts": _booking_facts(session),
        "phone": DetailsForm.display_phone(session.phone),
        "hold_until": session.hold_expires_at,
        "hold_left": _mmss(session.hold_seconds_left()),
        "pay_first": session.center.payment_required,
    }


def _mmss(seconds):
    return f"{seconds // 60:02d}:{seconds % 60:02d}"  # as static/js/funnel.js ticks it


def _pay_ctx(request, session, ctx):
    return {
        "facts": _booking_facts(session),
        "hold_until": session.hold_expires_at,
        "hold_left": _mmss(session.hold_seconds_left()),
        "paid_url": _url(session, "booking-payment-return"),
    }


def _back_to_site(session):
    """The salon page the guest came from, for a link back after paying in the top window."""
    host = session.landing.get("cf_host", "")
    try:
        parts = urlsplit(host)
    except ValueError:
        return ""
    if parts.scheme == "https" and parts.hostname:
        return host
    if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"):
        return host
    return ""


def _done_ctx(request, session, ctx):
    confirmed = session.state == S.CONFIRMED
    events = list(ctx["events"])
    # Only an in-page arrival reports to the host page: a reload or a top-level page (after
    # paying) would count the booking twice, or has no host page to tell.
    if ctx["partial"]:
        if confirmed:
            events.append(
                _event(
                    "booking_completed",
                    service=session.service_name,
                    center=session.center.name if session.center else "",
                    value=_value(session.amount_paid or session.price),
                    currency=CURRENCY,
                )
            )
        else:
            events.append(_event("booking_failed", reason=_reason(ctx["problem"]) or "ended"))
    reference = (session.appointment_id or session.code)[:8].upper()
    if confirmed:
        lede = f"We've sent the details to {session.email}." if session.email else ""
    elif ctx["problem"]:
        lede = ""
    elif session.state == S.EXPIRED:
        lede = "The time we were holding for you was released. You're welcome to start again."
    else:
        lede = "Nothing was booked. You're welcome to start again."
    return {
        "lede": lede,
        "confirmed": confirmed,
        "heading": TITLES["done"] if confirmed else _ended_heading(session),
        "facts": _booking_facts(session),
        "reference": reference,
        "back_to_site": "" if ctx["embedded"] else _back_to_site(session),
        "start_url": _start_url(session.widget, session.landing),
        "events": events,
    }


def _ended_heading(session):
    if session.state == S.EXPIRED:
        return "This booking timed out"
    if session.state == S.ABANDONED:
        return "This booking was not finished"
    return "We couldn't complete this booking"


STEP_CONTEXT = {
    "center": _center_ctx,
    "service": _service_ctx,
    "provider": _provider_ctx,
    "time": _time_ctx,
    "details": _details_ctx,
    "review": _review_ctx,
    "pay": _pay_ctx,
    "done": _done_ctx,
}


# --- the views -----------------------------------------------------------------------------


@require_GET
def start(request, org, widget):
    widget = (
        Widget.objects.select_related("organization")
        .filter(organization__slug=org, code=widget)
        .first()
    )
    if widget is None:
        raise Http404("No such widget.")
    if not _bookable(widget) or not funnel.offered_centers(widget):
        return _finish(_unavailable(request, widget), widget)
    session = funnel.start_session(
        widget,
        request.GET,
        referrer=request.META.get("HTTP_REFERER", ""),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return _finish(_see_other(_step_url(session, funnel.current_step(session))), widget)


@require_GET
@funnel_view(None)
def resume(request, session, flow):
    return _see_other(_step_url(session, funnel.current_step(session)))


def _remember_timezone(request, session):
    """The guest's zone, from the hidden `tz` of a browse form (static/js/funnel.js fills it
    in): the time step says so when the salon's zone differs."""
    funnel.note_timezone(session, FunnelTimezoneField().clean(request.POST.get("tz")))


def _next_after(step, flow):
    return flow[flow.index(step) + 1]


def _choose(request, session, flow, step, same, choose, choice, events=()):
    """After a valid `choice` on `step`: the same choice again moves on (keeping a hold);
    a new one is saved by `choose(session, choice)` and leads to wherever the session now
    stands."""
    if same:
        return _go(request, session, _next_after(step, flow), flow=flow, events=events)
    try:
        choose(session, choice)
    except funnel.Busy:
        return _busy(request, session, flow)
    return _go(request, session, funnel.current_step(session), flow=flow, events=events)


def _busy(request, session, flow):
    session.refresh_from_db()
    return _go(
        request, session, funnel.current_step(session), flow=flow, problem=funnel.STILL_WORKING
    )


# csrf_exempt on every view a funnel form posts to: no cookie, no token; the unguessable
# session code in the URL is what a forged post would lack (see the module docstring).
@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("center")
def step_center(request, session, flow):
    if request.method == "GET":
        return _render(request, session, "center", flow, events=_opened(request, session, flow))
    _remember_timezone(request, session)
    code = request.POST.get("center", "")
    center = next((c for c in funnel.offered_centers(session.widget) if c.code == code), None)
    if center is None:
        return _render(request, session, "center", flow, status=400, problem=_PICK["center"])
    same = center.pk == session.center_id
    return _choose(request, session, flow, "center", same, funnel.choose_center, center)


def _opened(request, session, flow):
    """widget_opened: the first page of a fresh session, loaded as a page (the iframe)."""
    first = next(s for s in flow if s in ("center", "service"))
    fresh = session.state == S.BROWSING and not session.service_id
    if request.htmx or not fresh or funnel.current_step(session) != first:
        return []
    funnel_events.record(session, "widget_viewed")
    return [_event("widget_opened")]


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("service")
def step_service(request, session, flow):
    if request.method == "GET":
        return _render(request, session, "service", flow, events=_opened(request, session, flow))
    _remember_timezone(request, session)
    service = funnel.find_service(session, request.POST.get("service"))
    if service is None:
        return _render(request, session, "service", flow, status=400, problem=_PICK["service"])
    events = [
        _event(
            "service_selected",
            service=service.name,
            center=session.center.name,
            price=_value(service.price),
            currency=CURRENCY,
        )
    ]
    funnel_events.record(session, "service_selected", service_id=service.id)
    same = service.id.lower() == session.service_id.lower()
    return _choose(request, session, flow, "service", same, funnel.choose_service, service, events)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("provider")
def step_provider(request, session, flow):
    if request.method == "GET":
        return _render(request, session, "provider", flow)
    _remember_timezone(request, session)
    wanted = request.POST.get("provider", "")
    if wanted == "any":
        therapist = None
    else:
        therapists = funnel.offered_therapists(session)
        therapist = next((t for t in therapists if t.id.lower() == wanted.lower()), None)
        if therapist is None:
            return _render(
                request, session, "provider", flow, status=400, problem=_PICK["provider"]
            )
    events = [_event("provider_selected", provider=therapist.name if therapist else "anyone")]
    funnel_events.record(
        session, "provider_selected", therapist_id=therapist.id if therapist else ""
    )
    same = session.provider_chosen and session.therapist_id.lower() == (
        therapist.id.lower() if therapist else ""
    )
    return _choose(
        request, session, flow, "provider", same, funnel.choose_provider, therapist, events
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("time")
def step_time(request, session, flow):
    if request.method == "GET":
        changing_day = "day" in request.GET or "week" in request.GET
        return _render(request, session, "time", flow, focus_heading=not changing_day)
    _remember_timezone(request, session)
    local_start = funnel.local_datetime(request.POST.get("start"))
    if local_start is None:
        return _render(request, session, "time", flow, status=400, problem=_PICK["time"])
    events = [
        _event("time_selected", date=local_start.date().isoformat(), time=f"{local_start:%H:%M}")
    ]
    if local_start == session.local_start:
        funnel_events.record(session, "time_selected")
        return _go(request, session, "details", flow=flow, events=events)
    try:
        outcome = funnel.choose_time(session, local_start)
    except funnel.Busy:
        return _busy(request, session, flow)
    if not outcome.ok:
        # The day's list is shown again, fresh from Zenoti (the funnel dropped the stale one).
        return _go(
            request, session, outcome.step, flow=flow, problem=outcome.problem,
            day=local_start.date(),
        )  # fmt: skip
    funnel_events.record(session, "time_selected")
    return _go(request, session, outcome.step, flow=flow, events=events)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("details")
def step_details(request, session, flow):
    if request.method == "GET":
        return _render(request, session, "details", flow)
    form = DetailsForm(request.POST)
    if not form.is_valid():
        return _render(request, session, "details", flow, status=400, form=form)
    if session.state == S.HELD and _same_details(session, form.cleaned_data):
        return _go(request, session, "review", flow=flow)  # the hold stays
    try:
        funnel.save_details(session, form.cleaned_data)
    except funnel.Busy:
        return _busy(request, session, flow)
    outcome = funnel.begin_booking(session)
    events = []
    if outcome.ok:
        events.append(
            _event("booking_started", service=session.service_name, center=session.center.name)
        )
    elif outcome.problem:
        events.append(_event("booking_failed", reason=_reason(outcome.problem)))
    return _go(request, session, outcome.step, events=events, problem=outcome.problem)


def _same_details(session, cleaned):
    fields = ("first_name", "last_name", "email", "phone", "marketing_consent", "notes")
    return all(getattr(session, name) == cleaned[name] for name in fields)


def _return_url(request, session):
    return request.build_absolute_uri(_url(session, "booking-payment-return"))


def _submitted_events(session, outcome):
    events = [
        _event(
            "booking_submitted",
            service=session.service_name,
            value=_value(session.price),
            currency=CURRENCY,
        )
    ]
    if not outcome.ok and outcome.problem:
        events.append(_event("booking_failed", reason=_reason(outcome.problem)))
    return events


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view("review")
def step_review(request, session, flow):
    if request.method == "GET":
        return _render(request, session, "review", flow)
    outcome = funnel.confirm(session, payment_return_url=_return_url(request, session))
    return _go(
        request,
        session,
        outcome.step,
        events=_submitted_events(session, outcome),
        problem=outcome.problem,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
@funnel_view(None)
def step_pay(request, session, flow):
    current = funnel.current_step(session)
    if request.method == "GET" and request.GET.get("poll") and request.htmx:
        # The payment page in another tab: the iframe asks now and then whether it is done.
        if current == "pay":
            return HttpResponse(status=204)
        return _go(request, session, current, flow=flow)
    if current != "pay":
        return _go(request, session, current, flow=flow)
    if request.method == "GET":
        return _render(request, session, "pay", flow)
    outcome = funnel.retry_payment(session, payment_return_url=_return_url(request, session))
    return _go(
        request,
        session,
        outcome.step,
        events=_submitted_events(session, outcome),
        problem=outcome.problem,
    )


@require_GET
@funnel_view(None)
def payment_return(request, session, flow):
    """Zenoti's redirect_uri: the guest is back from the hosted payment page, in the top
    window. Whether they paid is read from the invoice, never from this query string."""
    outcome = funnel.payment_returned(session, status_hint=request.GET.get("status", "")[:20])
    return _see_other(_step_url(session, outcome.step))


@require_GET
@funnel_view("done")
def step_done(request, session, flow):
    return _render(request, session, "done", flow)


# --- add to calendar -----------------------------------------------------------------------


def _ics_text(value):
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return re.sub(r"\r\n|\r|\n", r"\\n", value)


def _ics_fold(line):
    """RFC 5545 lines are at most 75 octets; longer ones continue after CRLF + space, cut
    between characters (never inside a UTF-8 sequence)."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _ics_time(moment):
    return moment.astimezone(timezone.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_ics(session):
    org = session.organization.public_name
    description = f"{session.service_name} with {session.therapist_name or 'a team member'}."
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chairfill//Booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{session.code}@chairfill",
        f"DTSTAMP:{_ics_time(session.confirmed_at or timezone.now())}",
        f"DTSTART:{_ics_time(session.starts_at)}",
        f"DTEND:{_ics_time(session.ends_at or session.starts_at + timedelta(hours=1))}",
        f"SUMMARY:{_ics_text(f'{session.service_name} at {org}')}",
        f"LOCATION:{_ics_text(session.center.name if session.center else org)}",
        f"DESCRIPTION:{_ics_text(description)}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_ics_fold(line) + "\r\n" for line in lines)


@require_GET
@funnel_view(None)
def ics(request, session, flow):
    if session.state != S.CONFIRMED or session.starts_at is None:
        raise Http404("Only a confirmed booking goes in a calendar.")
    response = HttpResponse(calendar_ics(session), content_type="text/calendar; charset=utf-8")
    name = re.sub(r"[^A-Za-z0-9]+", "-", session.organization.public_name).strip("-").lower()
    response["Content-Disposition"] = f'attachment; filename="{name or "booking"}.ics"'
    return response


# --- branding ------------------------------------------------------------------------------


def _color(value, default):
    return value if value and color_validator.regex.fullmatch(value) else default


def _luminance(color):
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b):
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(color, factor):
    return "#" + "".join(f"{int(int(color[i : i + 2], 16) * factor):02x}" for i in (1, 3, 5))


def _ink(color, minimum=4.5):
    """The brand color, darkened until text in it reads on white (WCAG AA): links, focus
    rings and selected labels stay legible whatever color the salon picked."""
    ink, factor = color, 1.0
    while _contrast(ink, "#ffffff") < minimum:
        factor -= 0.05
        ink = _darken(color, factor)
    return ink


def theme_values(widget):
    brand = _color(widget.brand, DEFAULT_BRAND)
    accent = _color(widget.accent, DEFAULT_ACCENT)
    radius = min(max(widget.organization.button_radius or 0, 0), MAX_RADIUS)
    # Text on brand-colored buttons: whichever of white and near-black reads better.
    on_brand = max(("#ffffff", "#1b1e2b"), key=lambda text: _contrast(brand, text))
    return {
        "--brand": brand,
        "--brand-ink": _ink(brand),
        "--on-brand": on_brand,
        "--accent": accent,
        "--radius": f"{radius}px",
    }


def _theme_css(widget):
    values = theme_values(widget)
    body = ";".join(f"{name}:{value}" for name, value in values.items())
    return f":root{{{body}}}\n"


def _theme_version(widget):
    return hashlib.sha256(_theme_css(widget).encode()).hexdigest()[:12]


def _theme_url(widget):
    url = reverse(
        "booking-funnel-theme", kwargs={"org": widget.organization.slug, "widget": widget.code}
    )
    return f"{url}?v={_theme_version(widget)}"


@require_GET
def theme(request, org, widget):
    """The widget's colors and corner radius as CSS variables: the CSP allows no inline
    styles, so branding is a (tiny, cacheable) stylesheet of validated values."""
    widget = (
        Widget.objects.select_related("organization")
        .filter(organization__slug=org, code=widget)
        .first()
    )
    if widget is None:
        raise Http404("No such widget.")
    response = HttpResponse(_theme_css(widget), content_type="text/css; charset=utf-8")
    if request.GET.get("v") == _theme_version(widget):
        # The URL names the content: new colors make a new URL.
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=300"
    return response
