"""Attribution touches: where a guest came from, captured once when a booking session starts
from what the funnel's first request and the embed loader hand over.

A touch is one visit: {"at", "landing_url", "host_url", "referrer", "params", "cookies",
"source", "medium", "campaign", "network", "device", "direct"}. A visit is non-direct when a
campaign or an ad brought it (a utm_* parameter or a click id) or another site linked to it.
The session keeps the first non-direct touch (the loader remembers it in the host page's
localStorage, so a guest coming back directly a week later keeps it) and the last one (a
later direct visit does not erase it).
"""

import re
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from attribution.sources import CLICK_ID_NETWORKS, click_network, domain_of

UTM_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_source_platform",
    "utm_creative_format",
    "utm_marketing_tactic",
)
# The parameters a touch keeps, names case-exact.
TOUCH_PARAMS = (*UTM_PARAMS, *CLICK_ID_NETWORKS)
# The ad platforms' first-party cookies the embed loader reads (static/js/widget-loader.js).
COOKIES = (
    "_gcl_aw",
    "_gcl_au",
    "_gcl_dc",
    "_fbc",
    "_fbp",
    "_uetmsclkid",
    "_uetvid",
    "_ttp",
    "ttclid",
    "li_fat_id",
    "_rdt_cid",
    "_epik",
    "_scid",
)
MAX_VALUE = 500
MAX_URL = 1000
# A click id's medium, when the network's clicks are not paid ads.
NETWORK_MEDIUMS = {"mailchimp": "email"}
# Referrers that are search engines: source = the engine, medium "organic" (as GA reports).
SEARCH_ENGINES = (
    ("google", re.compile(r"(^|\.)google(\.[a-z]{2,3}){1,2}$")),
    ("bing", re.compile(r"(^|\.)bing\.com$")),
    ("duckduckgo", re.compile(r"(^|\.)duckduckgo\.com$")),
    ("yahoo", re.compile(r"(^|\.)search\.yahoo\.(com|co\.[a-z]{2})$")),
    ("yandex", re.compile(r"(^|\.)yandex\.[a-z]{2,3}$")),
    ("baidu", re.compile(r"(^|\.)baidu\.com$")),
    ("ecosia", re.compile(r"(^|\.)ecosia\.org$")),
)
# Device classes from the user agent; tablets first (Android tablets say "Android" without
# "Mobile"). iPads asking for desktop sites look like Macs: they count as desktops.
TABLET = re.compile(r"iPad|Tablet|PlayBook|Kindle|Silk/|Android(?!.*Mobile)", re.IGNORECASE)
MOBILE = re.compile(r"Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini", re.IGNORECASE)


def clean(value, limit=MAX_VALUE):
    """A value fit to store and show: a string without control or formatting characters
    (NUL is refused by PostgreSQL's jsonb; bidi overrides could disguise a value), cut."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return text.strip()[:limit]


def device_of(user_agent):
    if not user_agent:
        return ""
    if TABLET.search(user_agent):
        return "tablet"
    if MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


def _params(pairs):
    """The campaign parameters and click ids among `pairs`, first value of each name."""
    found = {}
    for name, value in pairs:
        if name in TOUCH_PARAMS and name not in found:
            value = clean(value)
            if value:
                found[name] = value
    return found


def _query_pairs(url):
    try:
        return parse_qsl(urlsplit(url).query)
    except ValueError:
        return []


def _referring_domain(referrer, page_url):
    """The referrer's domain when it is another site: not the page's own, not ours."""
    domain = domain_of(referrer)
    return "" if domain in (domain_of(page_url), domain_of(settings.SITE_URL)) else domain


def _source_medium(params, network, referrer_domain):
    """GA's rules, simplified: UTM parameters win; else an ad click is "<network> / cpc", a
    search engine "<engine> / organic" and any other site "<domain> / referral"."""
    source = params.get("utm_source", "")
    medium = params.get("utm_medium", "")
    if network:
        return source or network, medium or NETWORK_MEDIUMS.get(network, "cpc")
    if referrer_domain and not source:
        engine = next((name for name, rx in SEARCH_ENGINES if rx.search(referrer_domain)), "")
        if engine:
            return engine, medium or "organic"
        return referrer_domain, medium or "referral"
    return source, medium


def touch(*, at, landing_url, host_url, referrer, params, cookies=None, device=""):
    """One visit as a touch; "direct" says whether it counts for attribution."""
    network = click_network(params)
    referrer_domain = _referring_domain(referrer, host_url or landing_url)
    source, medium = _source_medium(params, network, referrer_domain)
    return {
        "at": at.isoformat(),
        "landing_url": landing_url,
        "host_url": host_url,
        "referrer": referrer,
        "params": params,
        "cookies": cookies or {},
        "source": clean(source, 100),
        "medium": clean(medium, 100),
        "campaign": clean(params.get("utm_campaign", ""), 200),
        "network": network,
        "device": device,
        "direct": not (params or referrer_domain),
    }


def _when(stamp, now):
    """A loader's ISO timestamp, trusted only between a year before `now` and `now`."""
    try:
        moment = datetime.fromisoformat(clean(stamp, 40))
    except (TypeError, ValueError):
        return now
    if moment.tzinfo is None or not (now - timedelta(days=366) <= moment <= now):
        return now
    return moment


def _stored(stored, *, now, device, cookies=None):
    """A touch the loader kept in localStorage ({url, referrer, ts}), or None when there is
    none or it does not count (a direct visit, whatever the loader thought)."""
    if not isinstance(stored, dict) or not stored.get("url"):
        return None
    url = clean(stored["url"], MAX_URL)
    found = touch(
        at=_when(stored.get("ts"), now),
        landing_url=url,
        host_url=url,
        referrer=clean(stored.get("referrer"), MAX_URL),
        params=_params(_query_pairs(url)),
        cookies=cookies,
        device=device,
    )
    return None if found["direct"] else found


def capture(landing, *, user_agent="", now):
    """(first_touch, last_touch, first_touch_at) of a session started with `landing`
    (booking.funnel.landing_from). A direct visit with nothing remembered gives ({}, {}, now).

    The ad platforms' cookies describe the browser now: they go with the last touch, and
    with the first one only when it is this visit."""
    device = device_of(user_agent)
    cookies = {
        name: clean(value, 300)
        for name, value in (landing.get("cookies") or {}).items()
        if name in COOKIES and clean(value, 300)
    }
    host_url = clean(landing.get("cf_host"), MAX_URL)
    this_visit = touch(
        at=now,
        landing_url=host_url or clean(landing.get("url"), MAX_URL),
        host_url=host_url,
        referrer=clean(landing.get("referrer"), MAX_URL),
        params=_params((landing.get("params") or {}).items()),
        cookies=cookies,
        device=device,
    )
    visit = None if this_visit["direct"] else this_visit
    first = _stored(landing.get("first_touch"), now=now, device=device) or visit
    last = (
        visit
        or _stored(landing.get("last_touch"), now=now, device=device, cookies=cookies)
        or (first and {**first, "cookies": cookies})
    )
    first_at = datetime.fromisoformat(first["at"]) if first else now
    return first or {}, last or {}, first_at


def rule_facts(touch):
    """What referral-source rules match on (tenants.referral), from one touch."""
    params = touch.get("params") or {}
    return {
        "utm_source": params.get("utm_source", ""),
        "utm_medium": params.get("utm_medium", ""),
        "utm_campaign": params.get("utm_campaign", ""),
        "click_network": touch.get("network", ""),
        "referrer_domain": _referring_domain(
            touch.get("referrer", ""), touch.get("host_url") or touch.get("landing_url", "")
        ),
    }
