"""attribution.touches: a matrix of landings (direct links and embeds, referrers, cookies,
touches the loader remembered) → the first and last touch, the click network, and the
referral source the organization's rules choose; then the details (devices, sanitising,
timestamps) and the capture through booking.funnel.start_session."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from attribution import touches
from booking import funnel
from booking.models import Widget
from tenants.models import ReferralRule
from tenants.referral import referral_source_for

SITE = "https://book.chairfill.test"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
HOST = "https://salon.example/book"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def rules(org):
    org.default_referral_source_id = "WEB"
    org.save()
    for position, (field, operator, value, source) in enumerate(
        [
            ("utm_source", "equals", "newsletter", "NEWS"),
            ("click_network", "equals", "google", "GADS"),
            ("click_network", "equals", "meta", "META"),
            ("referrer_domain", "contains", "instagram", "IG"),
            ("utm_medium", "equals", "organic", "NEVER"),  # mediums GA derives are not UTM
        ],
        start=1,
    ):
        ReferralRule.objects.create(
            organization=org,
            position=position,
            field=field,
            operator=operator,
            value=value,
            referral_source_id=source,
        )
    return org


def stored(url, days_ago, referrer=""):
    """A touch as the embed loader keeps it in localStorage."""
    ts = (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    return json.dumps({"url": url, "referrer": referrer, "ts": ts})


def landing(query="", referrer="", **loader):
    """What landing_from makes of the funnel's first request: the page's own `query` and
    the loader's cf_* facts (host=, ref=, ck=, ft=, lt=)."""
    q = QueryDict(query, mutable=True)
    for name, value in loader.items():
        q[f"cf_{name}"] = value if isinstance(value, str) else json.dumps(value)
    found = funnel.landing_from(q, referrer)
    found["url"] = f"{SITE}/b/lumen/web/" + (f"?{query}" if query else "")
    return found


def summary(touch):
    if not touch:
        return None
    return (touch["source"], touch["medium"], touch["campaign"], touch["network"])


MATRIX = [
    pytest.param(
        landing("utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=X"),
        ("google", "cpc", "spring", "google"),
        ("google", "cpc", "spring", "google"),
        "GADS",
        id="direct-link-google-ads",
    ),
    pytest.param(
        landing("", "https://l.instagram.com/?u=x"),
        ("l.instagram.com", "referral", "", ""),
        ("l.instagram.com", "referral", "", ""),
        "IG",
        id="direct-link-from-instagram",
    ),
    pytest.param(
        landing("", "https://www.google.com/"),
        ("google", "organic", "", ""),
        ("google", "organic", "", ""),
        "WEB",
        id="organic-search-is-no-utm-medium",
    ),
    pytest.param(landing(""), None, None, "WEB", id="direct-visit"),
    pytest.param(
        landing("", f"{SITE}/b/lumen/web/abc/done/"), None, None, "WEB", id="our-own-site"
    ),
    pytest.param(
        landing("fbclid=FB1", "https://salon.example/", host=f"{HOST}?fbclid=FB1", ref=""),
        ("meta", "cpc", "", "meta"),
        ("meta", "cpc", "", "meta"),
        "META",
        id="embed-meta-click",
    ),
    pytest.param(
        landing("", "https://salon.example/", host=HOST, ref="https://www.salon.example/"),
        None,
        None,
        "WEB",
        id="embed-host-site-referrer-is-direct",
    ),
    pytest.param(
        landing(
            "",
            "https://salon.example/",
            host=HOST,
            ft=stored("https://salon.example/?utm_source=newsletter&utm_medium=email", 3),
            lt=stored("https://salon.example/?gclid=LATER", 1),
        ),
        ("newsletter", "email", "", ""),
        ("google", "cpc", "", "google"),
        "GADS",  # the last touch decides
        id="embed-return-visit-keeps-first-and-last",
    ),
    pytest.param(
        landing(
            "",
            host=HOST,
            ft=stored("https://salon.example/?utm_source=newsletter&utm_campaign=may", 9),
        ),
        ("newsletter", "", "may", ""),
        ("newsletter", "", "may", ""),
        "NEWS",
        id="embed-return-visit-without-last-uses-first",
    ),
    pytest.param(
        landing(
            "utm_source=bing&utm_medium=cpc&msclkid=M1",
            host=f"{HOST}?utm_source=bing&utm_medium=cpc&msclkid=M1",
            ft=stored("https://salon.example/?utm_source=newsletter", 20),
            lt=stored("https://salon.example/?fbclid=OLD", 5),
        ),
        ("newsletter", "", "", ""),
        ("bing", "cpc", "", "microsoft"),
        "WEB",
        id="embed-campaign-visit-is-the-last-touch",
    ),
    pytest.param(
        landing("UTM_SOURCE=google&Gclid=X"), None, None, "WEB", id="names-are-case-exact"
    ),
    pytest.param(
        landing("ScCid=S1&utm_campaign=snap"),
        ("snapchat", "cpc", "snap", "snapchat"),
        ("snapchat", "cpc", "snap", "snapchat"),
        "WEB",
        id="snapchat-click-id",
    ),
    pytest.param(
        landing("mc_cid=abc&utm_campaign=june"),
        ("mailchimp", "email", "june", "mailchimp"),
        ("mailchimp", "email", "june", "mailchimp"),
        "WEB",
        id="mailchimp-is-email",
    ),
    pytest.param(
        landing("", host=HOST, ft=stored("https://salon.example/", 2, "https://salon.example/x")),
        None,
        None,
        "WEB",
        id="a-stored-direct-visit-does-not-count",
    ),
]


@pytest.mark.parametrize("visit,first,last,referral", MATRIX)
def test_the_attribution_matrix(rules, visit, first, last, referral):
    first_touch, last_touch, _ = touches.capture(visit, now=NOW)
    assert summary(first_touch) == first
    assert summary(last_touch) == last
    facts = touches.rule_facts(last_touch)
    assert referral_source_for(rules, facts).source_id == referral


def test_a_touch_has_every_fact_and_only_campaign_parameters():
    visit = landing(
        "utm_source=google&utm_medium=cpc&utm_term=cut&utm_content=ad1&utm_id=42"
        "&utm_source_platform=sa360&utm_creative_format=video&utm_marketing_tactic=prospecting"
        "&gclid=G1&wbraid=W1&page=2",
        ck={"_gcl_aw": "GCL.1.G1", "_fbp": "fb.1.2", "sessionid": "not-an-ad-cookie"},
    )
    first, last, first_at = touches.capture(visit, user_agent=IPHONE, now=NOW)
    assert first == last
    assert first_at == NOW
    assert last["params"] == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_term": "cut",
        "utm_content": "ad1",
        "utm_id": "42",
        "utm_source_platform": "sa360",
        "utm_creative_format": "video",
        "utm_marketing_tactic": "prospecting",
        "gclid": "G1",
        "wbraid": "W1",
    }
    assert last["cookies"] == {"_gcl_aw": "GCL.1.G1", "_fbp": "fb.1.2"}
    assert last["landing_url"].startswith(f"{SITE}/b/lumen/web/?utm_source=google")
    assert last["host_url"] == "" and last["referrer"] == ""
    assert last["device"] == "mobile" and last["direct"] is False
    assert last["at"] == NOW.isoformat()


def test_a_return_visit_dates_the_first_touch_from_the_loader():
    visit = landing(
        "", host=HOST, ck={"_fbc": "fb.1.x"}, ft=stored(f"{HOST}?utm_source=newsletter", 3)
    )
    first, last, first_at = touches.capture(visit, now=NOW)
    assert first_at == NOW - timedelta(days=3)
    assert first["landing_url"] == first["host_url"] == f"{HOST}?utm_source=newsletter"
    # The ad cookies describe the browser now: the last touch carries them.
    assert first["cookies"] == {} and last["cookies"] == {"_fbc": "fb.1.x"}
    assert last["at"] == first["at"]


@pytest.mark.parametrize(
    "ts", ["tomorrow", "2026-03-11T09:00:00Z", "2024-01-01T00:00:00Z", "2026-03-09T10:00:00"]
)
def test_a_stored_time_in_the_future_too_old_or_unreadable_is_now(ts):
    visit = landing("", host=HOST, ft={"url": f"{HOST}?gclid=1", "referrer": "", "ts": ts})
    assert touches.capture(visit, now=NOW)[2] == NOW


def test_values_are_sanitised_and_bounded():
    campaign = "spring\x00\u202esale" + "x" * 800
    visit = landing(urlencode({"utm_source": "news\r\nletter", "utm_campaign": campaign}))
    _, last, _ = touches.capture(visit, now=NOW)
    assert last["params"]["utm_source"] == "newsletter"
    assert last["params"]["utm_campaign"].startswith("springsale")
    assert len(last["params"]["utm_campaign"]) <= 500
    assert len(last["campaign"]) <= 200


def test_a_stored_touch_that_is_no_object_is_ignored():
    visit = landing("", host=HOST, ft="[1, 2]", lt="not json")
    assert touches.capture(visit, now=NOW)[:2] == ({}, {})


@pytest.mark.parametrize(
    "agent,device",
    [
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) Mobile/15E148", "tablet"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36", "desktop"),
        ("", ""),
    ],
)
def test_the_device_class_comes_from_the_user_agent(agent, device):
    assert touches.device_of(agent) == device


# --- through the funnel --------------------------------------------------------------------


@pytest.fixture
def widget(org):
    return Widget.objects.create(organization=org, name="Web")


def test_start_session_stores_both_touches_and_the_rules_see_the_last(rules, widget):
    query = QueryDict(mutable=True)
    query.update({"embed": "inline", "cf_host": HOST, "utm_source": "google", "gclid": "G"})
    query["cf_ft"] = json.dumps({"url": f"{HOST}?utm_source=newsletter", "ts": "2020-01-01Z"})
    session = funnel.start_session(widget, query, referrer=HOST, user_agent=IPHONE)
    session.refresh_from_db()
    assert session.first_touch["source"] == "newsletter"
    assert session.last_touch["network"] == "google" and session.last_touch["device"] == "mobile"
    assert session.first_touch_at == session.created_at  # 2020 is too old to trust
    assert session.landing["url"].endswith(f"/b/lumen/{widget.code}/?utm_source=google&gclid=G")
    assert funnel._referral_source(session) == "GADS"


def test_a_direct_session_has_no_touch_and_gets_the_default_source(rules, widget):
    session = funnel.start_session(widget, QueryDict(""))
    session.refresh_from_db()
    assert session.first_touch == {} and session.last_touch == {}
    assert session.first_touch_at == session.created_at
    assert funnel._referral_source(session) == "WEB"


def test_control_characters_from_a_crafted_link_are_stored_without_them(widget):
    # PostgreSQL's jsonb refuses "\u0000": an unsanitised landing would be a 500.
    query = QueryDict("utm_source=a%00b&x%00=1&cf_ft=%7B%22url%22%3A%22%5Cu0000%22%7D")
    session = funnel.start_session(widget, query, referrer="https://x.example/\x00")
    session.refresh_from_db()
    assert session.landing["params"] == {"utm_source": "ab", "x": "1"}
    assert session.last_touch["source"] == "ab"
