"""Member pages of outgoing webhooks: the endpoints with their health, adding and editing one,
its signing secret (shown once, at creation and at each rotation), a test event, and the
delivery log with each attempt and a replay. Everyone in the organization can look; managers
change things."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from attribution import actions, delivery
from attribution.forms import DeliveryFilterForm, EndpointForm
from attribution.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from tenants.access import org_member_required, org_object
from tenants.models import Role

LIST_PAGE = "attribution/webhooks/list.html"
FORM_PAGE = "attribution/webhooks/form.html"
SECRET_PAGE = "attribution/webhooks/secret.html"
ROTATE_PAGE = "attribution/webhooks/rotate.html"
LOG_PAGE = "attribution/webhooks/deliveries.html"
DELIVERY_PAGE = "attribution/webhooks/delivery.html"
PER_PAGE = 50
# A test event's result is polled this many times (a second apart) while it waits for a worker.
RESULT_POLLS = 10

# What a delivery looks like, for the pages that explain webhooks (docs/webhooks.md has all of it).
EXAMPLE_PAYLOAD = json.dumps(
    {
        "type": "booking_completed",
        "id": "evt_5f0c9a1e2b7d4c3a8e6f1b2d",
        "version": 1,
        "created_at": "2026-07-01T16:30:05Z",
        "organization": {"slug": "lumen", "name": "Lumen Salon"},
        "booking": {
            "session": "k3v9w2x7m4",
            "state": "confirmed",
            "zenoti": {"booking_id": "b1f2…", "invoice_id": "9c0d…", "appointment_id": "a7e3…"},
            "center": {"name": "Lumen Downtown", "timezone": "America/New_York"},
            "service": {"name": "Women's Haircut & Style", "duration_minutes": 60},
            "start": {"local": "2026-07-03T10:00:00-04:00", "utc": "2026-07-03T14:00:00Z"},
            "price": "85.00",
            "currency": "USD",
        },
        "guest": {"first_name": "Ada", "email": "ada@example.com", "email_sha256": "5e1f…"},
        "attribution": {
            "first_touch": {"source": "google", "medium": "cpc"},
            "click_ids": {"gclid": "Cj0KCQ…"},
            "lag_seconds": 5400,
        },
    },
    indent=2,
    ensure_ascii=False,
)
EXAMPLE_RECEIVER = """\
from standardwebhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["CHAIRFILL_WEBHOOK_SECRET"])  # whsec_…

def chairfill_hook(request):  # a Django view; any framework works
    try:
        event = webhook.verify(request.body, request.headers)
    except WebhookVerificationError:
        return HttpResponse(status=400)
    # Deliveries can repeat: skip a webhook-id you have already handled.
    handle(event["type"], event)
    return HttpResponse(status=204)"""


def _get_endpoint_for_member(request, organization, code, *, write=False):
    """The organization's endpoint; 403 on a write without the manager role (outsiders never
    get here: org_member_required answers 404)."""
    endpoint = org_object(WebhookEndpoint, organization, code=code)
    if write and not request.access.can(Role.MANAGER):
        raise PermissionDenied("Changing webhooks needs the manager role.")
    return endpoint


def _with_last_attempt(deliveries):
    """Deliveries with their event and endpoint, and the latency and response excerpt of
    their latest attempt, in one query."""
    last = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-number")
    return deliveries.select_related("event", "endpoint").annotate(
        last_latency=Subquery(last.values("latency_ms")[:1]),
        last_excerpt=Subquery(last.values("response_excerpt")[:1]),
    )


def _endpoints_with_health(organization):
    """The organization's endpoints, each with its latest attempt (of any delivery) and the
    names of the events it hears about."""
    last = WebhookAttempt.objects.filter(delivery__endpoint=OuterRef("pk")).order_by(
        "-created_at", "-pk"
    )
    endpoints = list(
        WebhookEndpoint.objects.filter(organization=organization).annotate(
            last_attempt_at=Subquery(last.values("created_at")[:1]),
            last_attempt_status=Subquery(last.values("status_code")[:1]),
            last_attempt_error=Subquery(last.values("error")[:1]),
        )
    )
    labels = dict(WebhookEventType.choices)
    for endpoint in endpoints:
        endpoint.event_labels = [labels.get(value, value) for value in endpoint.event_types]
    return endpoints


def _examples():
    return {"example_payload": EXAMPLE_PAYLOAD, "example_receiver": EXAMPLE_RECEIVER}


@org_member_required()
@require_GET
def endpoint_list(request, organization):
    ctx = {
        "nav": "webhooks",
        "endpoints": _endpoints_with_health(organization),
        "can_manage": request.access.can(Role.MANAGER),
        **_examples(),
    }
    return render(request, LIST_PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
@never_cache  # the answer to the POST holds the secret
def endpoint_add(request, organization):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint = actions.create_endpoint(organization, request.user, form.endpoint_data())
        # The secret is shown in this answer and never again: no redirect that could show it
        # twice, no copy in the session.
        ctx = {"nav": "webhooks", "endpoint": endpoint, "created": True, **_examples()}
        return render(request, SECRET_PAGE, ctx)
    ctx = {"nav": "webhooks", "form": form, "endpoint": None, "can_edit": True}
    return render(request, FORM_PAGE, ctx)


@org_member_required()
@require_http_methods(["GET", "POST"])
def endpoint_edit(request, organization, code):
    endpoint = _get_endpoint_for_member(request, organization, code, write=request.method == "POST")
    form = EndpointForm(request.POST or None, endpoint=endpoint)
    if request.method == "POST" and form.is_valid():
        changed = actions.update_endpoint(endpoint, request.user, form.endpoint_data())
        messages.success(request, "Endpoint saved." if changed else "Nothing changed.")
        return redirect("attribution-webhook-edit", organization.slug, endpoint.code)
    recent = _with_last_attempt(
        WebhookDelivery.objects.filter(organization=organization, endpoint=endpoint)
    ).order_by("-created_at", "-pk")[:5]
    ctx = {
        "nav": "webhooks",
        "form": form,
        "endpoint": endpoint,
        "can_edit": request.access.can(Role.MANAGER),
        "overlap_until": endpoint.previous_secret_until if len(endpoint.secrets_at()) > 1 else None,
        "recent": recent,
    }
    return render(request, FORM_PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def endpoint_toggle(request, organization, code):
    endpoint = _get_endpoint_for_member(request, organization, code, write=True)
    # The button posts the state it asks for, so a double click does not flip it back.
    wanted = request.POST.get("enabled")
    enabled = wanted == "1" if wanted in ("0", "1") else not endpoint.enabled
    actions.set_endpoint_enabled(endpoint, request.user, enabled)
    if request.htmx:
        endpoint = next(e for e in _endpoints_with_health(organization) if e.pk == endpoint.pk)
        ctx = {"endpoint": endpoint, "can_manage": True}
        return render(request, f"{LIST_PAGE}#endpoint-row", ctx)
    if endpoint.enabled:
        messages.success(request, "The endpoint is on: new events are sent to it.")
    else:
        messages.success(request, "The endpoint is off: no events are sent to it.")
    return redirect("attribution-webhooks", organization.slug)


@org_member_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
@never_cache  # the answer to the POST holds the new secret
def endpoint_rotate(request, organization, code):
    """GET explains the rotation and asks to confirm; POST rotates and shows the new secret
    once."""
    endpoint = _get_endpoint_for_member(request, organization, code, write=True)
    if request.method == "POST":
        endpoint = actions.rotate_secret(endpoint, request.user)
        ctx = {"nav": "webhooks", "endpoint": endpoint, "created": False, **_examples()}
        return render(request, SECRET_PAGE, ctx)
    ctx = {
        "nav": "webhooks",
        "endpoint": endpoint,
        "overlap_hours": int(actions.ROTATION_OVERLAP.total_seconds() // 3600),
        "overlap_until": endpoint.previous_secret_until if len(endpoint.secrets_at()) > 1 else None,
    }
    return render(request, ROTATE_PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def endpoint_test(request, organization, code):
    endpoint = _get_endpoint_for_member(request, organization, code, write=True)
    if not endpoint.enabled:
        # It would only fail: a disabled endpoint's deliveries are given up unsent.
        messages.error(request, "Turn the endpoint on to send a test event.")
        edit = reverse("attribution-webhook-edit", args=[organization.slug, endpoint.code])
        return HttpResponseClientRedirect(edit) if request.htmx else redirect(edit)
    sent = delivery.send_test(endpoint)
    if request.htmx:
        return _delivery_result(request, sent, polls=0)
    messages.success(request, "A test event was sent.")
    return redirect("attribution-webhook-delivery", organization.slug, sent.code)


def _delivery_result(request, sent, *, polls):
    """The outcome of one delivery (a test event's), polled while it waits for a worker."""
    sent = _with_last_attempt(WebhookDelivery.objects.filter(pk=sent.pk)).get()
    waiting = sent.state == DeliveryState.PENDING and sent.attempts == 0
    ctx = {
        "delivery": sent,
        "now": timezone.now(),
        "poll": polls + 1 if waiting and polls < RESULT_POLLS else None,
    }
    return render(request, f"{DELIVERY_PAGE}#delivery-result", ctx)


@org_member_required()
@require_GET
def delivery_log(request, organization):
    filters = DeliveryFilterForm(request.GET, organization=organization)
    deliveries = filters.filter(WebhookDelivery.objects.filter(organization=organization))
    deliveries = _with_last_attempt(deliveries).order_by("-created_at", "-pk")
    page = Paginator(deliveries, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "nav": "webhooks",
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "now": timezone.now(),
        "has_endpoints": bool(filters.endpoints),
        "can_manage": request.access.can(Role.MANAGER),
    }
    # The filter form swaps only the results; anything else (history restore too) gets the page.
    template = f"{LOG_PAGE}#results" if request.htmx.target == "delivery-results" else LOG_PAGE
    return render(request, template, ctx)


@org_member_required()
@require_GET
def delivery_detail(request, organization, code):
    sent = org_object(WebhookDelivery, organization, code=code)
    if request.htmx.target == "test-result" and "poll" in request.GET:
        try:
            polls = int(request.GET["poll"])
        except ValueError:
            polls = RESULT_POLLS
        return _delivery_result(request, sent, polls=polls)
    sent = _with_last_attempt(WebhookDelivery.objects.filter(pk=sent.pk)).get()
    ctx = {
        "nav": "webhooks",
        "delivery": sent,
        "attempts": sent.attempt_log.all(),
        "payload": json.dumps(sent.event.payload, indent=2, ensure_ascii=False),
        "now": timezone.now(),
        "can_manage": request.access.can(Role.MANAGER),
    }
    return render(request, DELIVERY_PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def delivery_replay(request, organization, code):
    original = org_object(WebhookDelivery, organization, code=code)
    if not original.endpoint.enabled:
        messages.error(request, "Turn the endpoint on to replay its deliveries.")
        return redirect("attribution-webhook-delivery", organization.slug, original.code)
    again = delivery.replay(original)
    messages.success(
        request,
        f"Sent {original.event.public_id} again as a new delivery, with the same webhook-id.",
    )
    return redirect("attribution-webhook-delivery", organization.slug, again.code)
