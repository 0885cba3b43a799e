"""Upstream Zenoti calls per completed booking, counted from the call log.

    .venv/bin/python bench/funnel_calls.py
    .venv/bin/python bench/funnel_calls.py --via service   # booking.funnel, no web pages

A throwaway deployment (its own SQLite database, the demo organizations and sandbox, a widget
offering both demo centers): the funnel is served by one gunicorn, the Zenoti sandbox by
another on its own port (same database), so the rate-limit budget, the HTTP calls and the call
log (booking.models.ZenotiCall, one row per HTTP attempt) are real. The sandbox's rate limit
is lifted and its fault knobs are 0, so every attempt is a success and counts once.

1. One completed booking by a new guest: start → center → service → provider ("anyone") →
   time → details → review → done, through the web pages with plain form posts (no htmx),
   following redirects. Calls per step; the booking itself (details → hold, review → confirm)
   must take at most 5 (search guest, create guest, draft, reserve, confirm). The same at the
   Santa Monica center, which takes payment (card 4242 4242 4242 4242 on the sandbox's hosted
   page), for information.
2. 50 guests browsing the same center, service and day at once, the day not browsed before:
   every guest asks for the time page of that day together; upstream calls while they do must
   be at most 2 (one guest-less draft and its slots, shared through the availability cache).

`--via service` drives booking.funnel's functions instead of the pages (the bench process is
then the funnel's server). Exits 1 when a target is missed.
"""

import argparse
import io
import random
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urljoin, urlsplit

from _deploy import free_port, server, throwaway

SOHO_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SANTA_MONICA_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02"
TEST_CARD = "4242424242424242"
BOOKING_TARGET = 5
BROWSING_TARGET = 2
STEPS = ("center", "service", "provider", "time", "details", "review", "pay", "done")


# --- the deployment ----------------------------------------------------------------------


def set_up_tenant(sandbox_api_url):
    """The demo organizations (seed_demo), their centers calling the sandbox at
    `sandbox_api_url`, Santa Monica taking payment, a widget offering every center, the
    sandbox healthy and its rate limit lifted. Returns the widget."""
    from django.core.management import call_command

    from booking.models import Widget
    from sandbox.testing import set_faults
    from tenants.models import Center, Organization

    call_command("seed_demo", verbosity=0, stdout=io.StringIO())
    lumen = Organization.objects.get(slug="lumen")
    Center.objects.filter(organization=lumen).update(api_base_url=sandbox_api_url)
    Center.objects.filter(organization=lumen, zenoti_center_id=SANTA_MONICA_ID).update(
        payment_required=True
    )
    set_faults(
        "lumen",
        latency_ms=0,
        error_rate=0,
        hang_rate=0,
        rate_limited_rate=0,
        steal_rate=0,
        lose_response_rate=0,
        rate_limit=10**6,
        rate_window_seconds=60,
        rate_burst=10**6,
    )
    return Widget.objects.create(organization=lumen, name="Bench widget")


def center(zenoti_id):
    from tenants.models import Center

    return Center.objects.get(organization__slug="lumen", zenoti_center_id=zenoti_id)


class CallLog:
    """The call log's rows since the last look."""

    def __init__(self):
        self.last_id = self._max_id()

    @staticmethod
    def _max_id():
        from django.db.models import Max

        from booking.models import ZenotiCall

        return ZenotiCall.objects.aggregate(m=Max("id"))["m"] or 0

    def take(self):
        from booking.models import ZenotiCall

        rows = list(
            ZenotiCall.objects.filter(id__gt=self.last_id)
            .order_by("id")
            .values("id", "method", "path_template", "status", "outcome")
        )
        if rows:
            self.last_id = rows[-1]["id"]
        return rows


def upstream(rows):
    """Attempts that reached the sandbox (a budget refusal sends nothing)."""
    return [r for r in rows if r["outcome"] != "budget"]


def describe(rows):
    counts = Counter(f"{r['method']} {r['path_template']}" for r in upstream(rows))
    return ", ".join(f"{n}× {what}" if n > 1 else what for what, n in counts.items()) or "—"


def new_guest():
    """Details of a guest Zenoti has never seen (unique email, a valid US mobile number)."""
    import phonenumbers

    while True:
        number = f"+1646{random.randint(2000000, 9999999)}"  # noqa: S311
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            break
    tag = uuid.uuid4().hex[:12]
    return {
        "first_name": "Bench",
        "last_name": f"Guest {tag[:4]}",
        "email": f"bench-{tag}@example.com",
        "phone": number,
        "marketing_consent": False,
        "notes": "",
        "tz": "America/New_York",
    }


# --- the guest, through the web pages ----------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page: action, method, fields (name, value, type, checked) and submit
    buttons; plus the links."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self.links = []
        self._form = None
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            self._form = {
                "action": attrs.get("action") or "",
                "method": (attrs.get("method") or "get").lower(),
                "fields": [],
                "buttons": [],
            }
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind = (attrs.get("type") or "text").lower()
            field = {
                "name": attrs.get("name"),
                "value": attrs.get("value", "on" if kind in ("radio", "checkbox") else ""),
                "type": kind,
                "checked": "checked" in attrs,
                "disabled": "disabled" in attrs,
            }
            if kind in ("submit", "image"):
                self._form["buttons"].append(field)
            else:
                self._form["fields"].append(field)
        elif tag == "button":
            kind = (attrs.get("type") or "submit").lower()
            if kind == "submit":
                self._form["buttons"].append(
                    {
                        "name": attrs.get("name"),
                        "value": attrs.get("value", ""),
                        "type": "submit",
                        "disabled": "disabled" in attrs,
                        "formaction": attrs.get("formaction"),
                    }
                )
        elif tag == "textarea":
            self._textarea = {"name": attrs.get("name"), "value": "", "type": "textarea"}
            self._form["fields"].append(self._textarea)
        elif tag == "select":
            self._select = {"name": attrs.get("name"), "value": None, "type": "select"}
            self._form["fields"].append(self._select)
        elif (
            tag == "option"
            and self._select is not None
            and (self._select["value"] is None or "selected" in attrs)
        ):
            self._select["value"] = attrs.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def parse(html):
    forms = Forms()
    forms.feed(html)
    return forms


def base_data(form):
    """What the browser would send for the form as it stands: the hidden and text fields,
    the checked boxes, the selects (no button)."""
    data = []
    for field in form["fields"]:
        name = field.get("name")
        if not name or field.get("disabled"):
            continue
        if field["type"] in ("radio", "checkbox"):
            if field["checked"]:
                data.append((name, field["value"]))
        else:
            data.append((name, field["value"] or ""))
    return data


def form_body(pairs):
    """httpx wants a dict: a name given more than once maps to the list of its values."""
    body = {}
    for name, value in pairs:
        if name in body:
            body[name] = (
                [*body[name], value] if isinstance(body[name], list) else [body[name], value]
            )
        else:
            body[name] = value
    return body


def step_of(url):
    """The funnel step a URL shows (…/<session>/<step>/), "" for others."""
    parts = [p for p in urlsplit(str(url)).path.split("/") if p]
    return parts[-1] if parts and parts[-1] in STEPS else ""


class FunnelError(Exception):
    pass


class WebGuest:
    """One guest clicking through the funnel's pages with httpx: GET each step's page, post
    its form (plain posts, no htmx), follow the 303 to the next step. Every request is timed
    and logged as (step, method, status, seconds); `on_request` sees each one as it ends."""

    def __init__(self, site_url, *, client=None, on_request=None):
        import httpx

        self.site = site_url
        self.http = client or httpx.Client(base_url=site_url, timeout=60)
        self.on_request = on_request
        self.log = []
        self.url = None
        self.page = None
        self.html = ""

    def close(self):
        self.http.close()

    def _request(self, step, method, url, **kwargs):
        began = time.perf_counter()
        response = self.http.request(method, url, **kwargs)
        response.read()
        seconds = time.perf_counter() - began
        entry = (step, method, response.status_code, seconds)
        self.log.append(entry)
        if self.on_request:
            self.on_request(entry)
        if response.status_code >= 400:
            raise FunnelError(f"{method} {url} → {response.status_code}")
        return response

    def open(self, url, step=None):
        """GET url, following redirects one request at a time (each timed on its own)."""
        for _ in range(10):
            response = self._request(step or step_of(url) or "start", "GET", url)
            if response.is_redirect:
                url = urljoin(str(response.url), response.headers["location"])
                step = None
                continue
            self.url, self.html = str(response.url), response.text
            self.page = parse(self.html)
            return response
        raise FunnelError(f"too many redirects from {url}")

    @property
    def step(self):
        return step_of(self.url)

    def submit(self, data, form=None, action=None):
        """Post a form of the current page (the first POST form by default), its fields
        overridden by `data` (pairs; False leaves a box unticked), then follow the redirect."""
        form = form or self.post_form()
        url = urljoin(self.url, action or form["action"] or self.url)
        step = self.step
        data = [(str(k), str(v)) for k, v in data if v is not None and v is not False]
        given = {name for name, _ in data}
        fields = [(name, value) for name, value in base_data(form) if name not in given]
        response = self._request(step, "POST", url, data=form_body(fields + data))
        if response.is_redirect:
            return self.open(urljoin(str(response.url), response.headers["location"]))
        self.url, self.html = str(response.url), response.text
        self.page = parse(self.html)
        return response

    def post_form(self, having=None):
        for form in self.page.forms:
            if form["method"] != "post":
                continue
            names = {f.get("name") for f in form["fields"]} | {
                b.get("name") for b in form["buttons"]
            }
            if having is None or having in names:
                return form
        raise FunnelError(f"no form{' with ' + having if having else ''} on {self.url}")

    def choices(self, name):
        """(form, value) of every radio, or submit button, named `name` on the page."""
        found = []
        for form in self.page.forms:
            if form["method"] != "post":
                continue
            for field in form["fields"] + form["buttons"]:
                if (
                    field.get("name") == name
                    and not field.get("disabled")
                    and field["type"] in ("radio", "submit")
                ):
                    found.append((form, field["value"]))
        return found

    def get_choices(self, name):
        """The values of the enabled buttons named `name` in the page's GET forms (the time
        step's day picker)."""
        return [
            button["value"]
            for form in self.page.forms
            if form["method"] == "get"
            for button in form["buttons"]
            if button.get("name") == name and button["value"] and not button.get("disabled")
        ]

    def choose(self, name, wanted=None):
        """Pick `wanted` (or the first offered) value of the choice `name` and post it."""
        options = self.choices(name)
        if not options:
            raise FunnelError(f"no {name} to choose on {self.url}")
        for form, value in options:
            if wanted is None or value.lower() == str(wanted).lower():
                data = [(f, v) for f, v in base_data(form) if f != name] + [(name, value)]
                url = urljoin(self.url, form["action"] or self.url)
                response = self._request(self.step, "POST", url, data=form_body(data))
                if response.is_redirect:
                    return self.open(urljoin(str(response.url), response.headers["location"]))
                raise FunnelError(f"choosing {name}={value} on {self.url}: no redirect")
        raise FunnelError(f"{name}={wanted} not offered on {self.url}")


# The form field names of the steps, as booking/views/public.py reads them; a center is
# chosen by its code, "anyone" is provider=any.
FIELDS = {
    "center": "center",
    "service": "service",
    "provider": "provider",
    "time": "start",
}
ANYONE = "any"


def book_on_web(guest, start_url, *, center_code, details, card=None, day=None, rng=None, log=None):
    """Drive `guest` from the start URL to the done page: the first service and time (random
    ones with `rng`), anyone as provider. `log("time → details")` is called after each step:
    its choice posted and the next page shown (to take the call log). Returns the done page's
    URL."""
    log = log or (lambda step: None)
    guest.open(start_url)
    log(f"start → {guest.step}")
    while guest.step != "done":
        step = guest.step
        if step == "center":
            guest.choose(FIELDS["center"], center_code)
        elif step == "service":
            services = [value for _form, value in guest.choices(FIELDS["service"])]
            guest.choose(FIELDS["service"], rng.choice(services) if rng else None)
        elif step == "provider":
            guest.choose(FIELDS["provider"], ANYONE)
        elif step == "time":
            pick_time(guest, day, rng)
            day = None  # after a "just taken", the time step shows that day again
        elif step == "details":
            guest.submit(list(details.items()), form=guest.post_form("email"))
        elif step == "review":
            guest.submit([], form=guest.post_form())
        elif step == "pay":
            pay_on_web(guest, card or TEST_CARD)
        else:
            raise FunnelError(f"unexpected page {guest.url}")
        log(f"{step} → {guest.step}")
        if guest.step == step and step != "time":
            raise FunnelError(f"stuck on {step}: {guest.url}")
    return guest.url


def pick_time(guest, day=None, rng=None):
    """On the time step: go to `day` when given (the day picker's GET, ?day=YYYY-MM-DD), then
    take the first free time shown (a random one with `rng`), moving on to the next open day,
    or the next two weeks, while a day has none."""
    if day is not None:
        guest.open(urljoin(guest.url, f"?day={day.isoformat()}"), step="time")
    for _ in range(30):
        times = [value for _form, value in guest.choices(FIELDS["time"])]
        if times:
            guest.choose(FIELDS["time"], rng.choice(times) if rng else times[0])
            return
        shown = parse_qs(urlsplit(guest.url).query).get("day", [""])[0]
        later = sorted(d for d in guest.get_choices("day") if d > shown)
        if later:
            guest.open(urljoin(guest.url, f"?day={later[0]}"), step="time")
            continue
        weeks = sorted(w for w in guest.get_choices("week") if w > shown)
        if not weeks:
            raise FunnelError(f"no free time and no later day on {guest.url}")
        guest.open(urljoin(guest.url, f"?week={weeks[-1]}"), step="time")
    raise FunnelError("no free time found")


def pay_on_web(guest, card):
    """On the pay step: follow the link to the sandbox's hosted page, pay with `card` and come
    back through the funnel's return URL."""
    pay_url = next((link for link in guest.page.links if "/sandbox/pay/" in link), None)
    if pay_url is None:
        raise FunnelError(f"no payment link on {guest.url}")
    pay_with_card(guest.http, pay_url, card, on_return=lambda url: guest.open(url))


def pay_with_card(http, pay_url, card, on_return):
    """The sandbox's hosted payment page: GET (for the CSRF cookie and token), post the card,
    and hand the redirect back to the caller (`on_return(url)`)."""
    page = http.get(pay_url)
    page.raise_for_status()
    form = next(f for f in parse(page.text).forms if f["method"] == "post")
    data = dict(base_data(form))
    data.update(card_number=card, expiry="12 / 34", cvc="123")
    # The CSRF cookie is Secure (DEBUG=0), which httpx keeps off plain http: send it as a
    # browser on https would.
    token = SimpleCookie(page.headers.get("set-cookie", "")).get("csrftoken")
    headers = {"Cookie": f"csrftoken={token.value}"} if token else {}
    url = urljoin(str(page.url), form["action"] or str(page.url))
    response = http.post(url, data=data, headers=headers)
    if not response.is_redirect:
        raise FunnelError(f"the payment page did not send the guest back ({response.status_code})")
    return on_return(urljoin(str(response.url), response.headers["location"]))


# --- the guest, through booking.funnel ---------------------------------------------------


def first_free(session, start_day):
    """(day, first free time) from start_day on, following next_available_day."""
    from booking import funnel

    day = start_day
    for _ in range(30):
        found = funnel.day_availability(session, day)
        if found.times:
            return day, found
        day = found.next_available_day or day + timedelta(days=1)
    raise FunnelError("no free time in 30 days")


def book_via_service(widget, center_obj, details, *, return_base, log, card=TEST_CARD):
    """The same booking through booking.funnel's functions (the bench process plays the
    funnel's web server)."""
    import httpx
    from django.utils import timezone

    from booking import funnel

    session = funnel.start_session(widget, {"utm_source": "bench"})
    log("start")
    funnel.choose_center(session, center_obj)
    log("center")
    service = funnel.offered_services(session)[0]
    funnel.choose_service(session, service)
    log("service")
    funnel.offered_therapists(session)
    funnel.choose_provider(session, None)
    log("provider")
    _day, found = first_free(session, timezone.localdate() + timedelta(days=1))
    outcome = funnel.choose_time(session, found.times[0])
    log("time")
    if not outcome.ok:
        raise FunnelError(outcome.problem)
    funnel.save_details(session, details)
    outcome = funnel.begin_booking(session)
    log("details")
    if outcome.step != "review":
        raise FunnelError(f"details → {outcome}")
    return_url = f"{return_base}/b/lumen/{widget.code}/{session.code}/paid/"
    outcome = funnel.confirm(session, payment_return_url=return_url)
    log("review")
    if outcome.step == "pay":
        with httpx.Client(timeout=30) as http:
            pay_with_card(http, session.payment_url, card, on_return=lambda url: None)
        log("pay (sandbox page)")
        outcome = funnel.payment_returned(session, "success")
        log("paid")
    if outcome.step != "done" or not outcome.ok:
        raise FunnelError(f"review → {outcome}")
    return session


# --- 1. calls per booking ----------------------------------------------------------------


def one_booking(args, widget, site_url, zenoti_id, label):
    """Book once at the center; the call log's rows by step."""
    calls = CallLog()
    by_step = []

    def log(step):
        by_step.append((step, calls.take()))

    center_obj = center(zenoti_id)
    details = new_guest()
    if args.via == "web":
        guest = WebGuest(site_url)
        try:
            book_on_web(
                guest,
                f"{site_url}/b/lumen/{widget.code}/?utm_source=bench",
                center_code=center_obj.code,
                details=details,
                log=log,
            )
        finally:
            guest.close()
    else:
        book_via_service(widget, center_obj, details, return_base=site_url, log=log)
    # The booking: from posting the details on (hold, confirm, payment), not browsing.
    booking_steps = {"details", "review", "pay", "pay (sandbox page)", "paid"}

    def booking_step(step):
        return step.split(" → ")[0] in booking_steps

    browsing = [r for step, rows in by_step if not booking_step(step) for r in rows]
    booking = [r for step, rows in by_step if booking_step(step) for r in rows]
    print(f"\n{label}")
    for step, rows in by_step:
        print(f"   {step:<22} {len(upstream(rows)):>2}  {describe(rows)}")
    return len(upstream(browsing)), len(upstream(booking))


# --- 2. concurrent browsing --------------------------------------------------------------


def browsing_day():
    """A day of the time step's first two-week strip that nobody has browsed yet: ten days
    after SoHo's today (the strip itself, from today, is cached while guests walk there)."""
    import zoneinfo

    from django.utils import timezone

    soho = center(SOHO_ID)
    return timezone.now().astimezone(zoneinfo.ZoneInfo(soho.timezone)).date() + timedelta(days=10)


def concurrent_browsing(args, widget, site_url, day):
    """`args.guests` guests, each at the time step of SoHo's first service (anyone), ask for
    `day` at the same moment. Returns (call log rows, failures, seconds)."""
    from django.db import connections

    from booking import funnel

    soho = center(SOHO_ID)
    ready = []
    if args.via == "web":
        # Every guest walks to the time step first (catalog cached by the first).
        for _ in range(args.guests):
            guest = WebGuest(site_url)
            guest.open(f"{site_url}/b/lumen/{widget.code}/")
            guest.choose(FIELDS["center"], soho.code)
            guest.choose(FIELDS["service"])
            if guest.step == "provider":
                guest.choose(FIELDS["provider"], ANYONE)
            if guest.step != "time":
                raise FunnelError(f"expected the time step, got {guest.url}")
            ready.append(guest)
    else:
        for _ in range(args.guests):
            session = funnel.start_session(widget, {})
            funnel.choose_center(session, soho)
            funnel.choose_service(session, funnel.offered_services(session)[0])
            funnel.offered_therapists(session)
            funnel.choose_provider(session, None)
            ready.append(session)

    calls = CallLog()
    barrier = threading.Barrier(len(ready))
    failures = []

    def browse(guest):
        try:
            barrier.wait()
            if args.via == "web":
                guest.open(urljoin(guest.url, f"?day={day.isoformat()}"), step="time")
            else:
                funnel.day_availability(guest, day)
        except Exception as exc:  # noqa: BLE001 (reported below)
            failures.append(repr(exc))
        finally:
            connections.close_all()

    began = time.perf_counter()
    threads = [threading.Thread(target=browse, args=(guest,)) for guest in ready]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if args.via == "web":
        for guest in ready:
            guest.close()
    return calls.take(), failures, seconds


# --- main --------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--via", choices=["web", "service"], default="web")
    parser.add_argument("--guests", type=int, default=50, help="concurrent browsing guests")
    parser.add_argument("--cache", choices=["database", "redis"], default="database")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--server-threads", type=int, default=16)
    args = parser.parse_args()

    site_port, sandbox_port = free_port(), free_port()
    site_url = f"http://127.0.0.1:{site_port}"
    sandbox_api_url = f"http://127.0.0.1:{sandbox_port}/sandbox/zenoti/v1"
    print("Setting up a throwaway deployment (demo organizations and sandbox)…", flush=True)
    with throwaway(args.cache, args.database, SITE_URL=site_url):
        widget = set_up_tenant(sandbox_api_url)
        with (
            server(sandbox_port, args.server_workers, args.server_threads),
            server(site_port, args.server_workers, args.server_threads),
        ):
            plain = one_booking(args, widget, site_url, SOHO_ID, "1a. SoHo, new guest, no payment")
            paid = one_booking(
                args, widget, site_url, SANTA_MONICA_ID, "1b. Santa Monica, new guest, payment"
            )
            day = browsing_day()
            rows, failures, seconds = concurrent_browsing(args, widget, site_url, day)

    print()
    print(
        f"Funnel via {args.via}; {args.database}, {args.cache} cache; funnel and sandbox each on "
        f"gunicorn {args.server_workers} workers × {args.server_threads} threads"
    )
    results = [
        ("1a. booking calls, new guest, no payment", plain[1], BOOKING_TARGET),
        ("    browsing calls before it (cold caches)", plain[0], None),
        ("1b. booking calls, new guest, with payment", paid[1], None),
        ("    browsing calls before it", paid[0], None),
        (
            f"2.  {args.guests} guests browsing {day} at once ({seconds:.1f} s)",
            len(upstream(rows)),
            BROWSING_TARGET,
        ),
    ]
    missed = False
    print(f"{'':<56} {'calls':>5}  target")
    for label, count, target in results:
        verdict = ""
        if target is not None:
            ok = count <= target
            missed |= not ok
            verdict = f"≤ {target}  {'ok' if ok else 'MISSED'}"
        print(f"{label:<56} {count:>5}  {verdict}")
    print(f"    calls of 2.: {describe(rows)}")
    if failures:
        missed = True
        print(f"    {len(failures)} browsing guests failed:", *sorted(set(failures))[:5])
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
