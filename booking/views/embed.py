"""The embed loader, /w/<widget>.js: the script a salon's website includes to show the
booking funnel inline or behind a popup button."""

import functools
import hashlib
import json
import re
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from booking.embed import normalise_origin
from booking.models import Widget
from tenants.models import readable_text_color

LOADER = "js/widget-loader.js"
# widget-loader.js ends with this argument; the view puts the widget's settings in its place.
CONFIG_SLOT = "/*CONFIG*/{}"
# One URL per widget, so an edited widget (button text, colors) reaches host pages within
# five minutes; after that browsers revalidate with the ETag and mostly get a 304.
MAX_AGE = 5 * 60

# Why one response instead of a per-widget stub plus a hashed, far-future-cached static
# loader: the loader is a few KB, the per-widget settings change whenever the owner edits the
# widget (so this URL cannot be cached for long anyway), and a second round trip would delay
# the booking button on every salon page. The ETag is the content hash.


def _compact(source):
    """The source without its header comment, comment-only lines and indentation: readable in
    the repository, about a quarter smaller on the wire. (Safe: the loader has no string or
    regular expression spanning lines.)"""
    source = re.sub(r"\A/\*.*?\*/\s*", "", source, count=1, flags=re.S)
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


@functools.lru_cache(maxsize=1)
def _compacted(path, mtime_ns):
    return "/* Chairfill booking widget */\n" + _compact(path.read_text())


def _loader_source():
    # Keyed by the file's modification time: read once per version, not once per request.
    path = Path(finders.find(LOADER))
    return _compacted(path, path.stat().st_mtime_ns)


def _not_found():
    # A script tag shows no error page to anyone: a one-line comment tells whoever looks.
    return HttpResponseNotFound(
        "/* Chairfill: this booking widget does not exist or is switched off. */\n",
        content_type="text/javascript; charset=utf-8",
    )


@gzip_page
@require_GET
def widget_loader(request, widget):
    widget = (
        Widget.objects.select_related("organization")
        .filter(code=widget, enabled=True, organization__is_active=True)
        .first()
    )
    if widget is None:
        return _not_found()
    org = widget.organization
    funnel = reverse("booking-funnel-start", kwargs={"org": org.slug, "widget": widget.code})
    config = {
        "code": widget.code,
        "mode": widget.mode,
        "site": normalise_origin(settings.SITE_URL),
        "url": settings.SITE_URL + funnel,
        "name": org.public_name,
        "button": widget.button_text,
        "color": widget.brand,
        "text": readable_text_color(widget.brand),
        "radius": org.button_radius,
    }
    # ensure_ascii: no raw U+2028/U+2029 or other surprises inside the script.
    body = _loader_source().replace(CONFIG_SLOT, json.dumps(config, ensure_ascii=True), 1)
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    response["ETag"] = etag
    return get_conditional_response(request, etag=etag, response=response)
