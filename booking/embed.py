"""The embed's server side: which origins may frame a widget's funnel, which origin its
postMessage events are pinned to, and the headers that say so."""

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.csp import CSP

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value):
    """The origin of a URL as browsers name it: scheme://host[:port], lower-case, without a
    default port. None for anything but an http(s) address with a host."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number, a broken IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:  # urlsplit strips the brackets of an IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def embed_origins(widget):
    """The origins allowed to frame the widget: none once it is disabled or its organization
    suspended, so a stale embed stops showing the funnel."""
    if not widget.enabled or not widget.organization.is_active:
        return []
    origins = (normalise_origin(o) for o in widget.allowed_origins)
    return list(dict.fromkeys(o for o in origins if o))


def pinned_origin(widget, host_url):
    """The allowed origin the funnel posts its events to: the one the host page the loader
    reported belongs to, else "" (post nothing). The report comes from the query string and can
    be forged, but a forged one only makes the browser drop our messages: postMessage delivers
    to the named origin only, and frame-ancestors keeps other origins from framing us."""
    origin = normalise_origin(host_url)
    return origin if origin and origin in embed_origins(widget) else ""


def frame_csp(widget):
    """The site's CSP with frame-ancestors set to exactly the widget's allowed origins."""
    return {**settings.SECURE_CSP, "frame-ancestors": embed_origins(widget) or [CSP.NONE]}


def apply_embed_headers(response, widget):
    """Let the widget's allowed origins (and no one else) frame this funnel response."""
    response._csp_config = frame_csp(widget)  # read by ContentSecurityPolicyMiddleware
    if embed_origins(widget):
        # X-Frame-Options cannot name origins; frame-ancestors above does the limiting.
        response.xframe_options_exempt = True
    return response
