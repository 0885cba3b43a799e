"""Where a visit came from: the ad network behind a click ID, and the facts that
referral-source rules match on (utm_source/medium/campaign, click network, referrer domain)."""

from urllib.parse import parse_qsl, urlsplit

# Click-ID parameter → ad network, in the order they are checked when several are present.
CLICK_ID_NETWORKS = {
    "gclid": "google",
    "gbraid": "google",
    "wbraid": "google",
    "gclsrc": "google",
    "dclid": "google",
    "fbclid": "meta",
    "msclkid": "microsoft",
    "ttclid": "tiktok",
    "li_fat_id": "linkedin",
    "twclid": "x",
    "ScCid": "snapchat",
    "epik": "pinterest",
    "rdt_cid": "reddit",
    "yclid": "yandex",
    "tblci": "taboola",
    "obclid": "outbrain",
    "mc_cid": "mailchimp",
}


def click_network(params):
    """The network of the first click ID found in `params` (names are case-exact), or ''."""
    for name, network in CLICK_ID_NETWORKS.items():
        if params.get(name):
            return network
    return ""


def domain_of(url):
    """The host of `url` without "www.", or '' for an empty or malformed address."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:  # e.g. an unclosed IPv6 bracket in a referrer someone typed
        return ""
    return host.removeprefix("www.")


def visit_facts(landing_url, referrer=""):
    """The values referral-source rules look at, for one landing URL and referrer."""
    try:
        query = urlsplit(landing_url).query
    except ValueError:
        query = ""
    params = dict(parse_qsl(query, keep_blank_values=False))
    return {
        "utm_source": params.get("utm_source", ""),
        "utm_medium": params.get("utm_medium", ""),
        "utm_campaign": params.get("utm_campaign", ""),
        "click_network": click_network(params),
        "referrer_domain": domain_of(referrer),
    }
