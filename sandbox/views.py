"""Sandbox pages: the admin page (organizations, keys, referral sources, fault knobs, rate
limit, recent appointments and invoices), the guest-facing hosted payment page and an example
salon website embedding the demo widget."""

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking.embed import embed_origins, normalise_origin
from booking.models import Widget
from sandbox import actions, clock, ratelimit
from sandbox.demo import DEMO_WIDGET_CODE
from sandbox.forms import CardForm, FaultsForm, RateLimitForm
from sandbox.models import (
    Appointment,
    Invoice,
    Payment,
    ReceivedWebhook,
    SandboxOrganization,
)

RECENT = 25

# Test cards, as on real payment providers' test modes.
CARD_SUCCESS = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_3DS = "4000000000003220"
TEST_CARDS = [
    (CARD_SUCCESS, "Payment succeeds"),
    (CARD_DECLINE, "Card is declined"),
    (CARD_3DS, "Asks for 3-D Secure"),
]


# --- Admin page ----------------------------------------------------------------------


def _api_base(request):
    return request.build_absolute_uri(reverse("sandbox-api", args=["x"]))[: -len("/x")]


@login_required
@require_GET
def home(request):
    organizations = SandboxOrganization.objects.prefetch_related("api_keys", "centers")
    ctx = {"organizations": organizations, "api_base": _api_base(request)}
    return render(request, "sandbox/home.html", ctx)


def _organization_ctx(request, org, **bound_forms):
    actions.release_lapsed_holds(org)
    recent_appointments = (
        Appointment.objects.filter(organization=org)
        .select_related("center", "guest", "service", "therapist")
        .order_by("-created_at", "-start")[:RECENT]
    )
    recent_invoices = (
        Invoice.objects.filter(organization=org)
        .select_related("center", "guest")
        .order_by("-created_at", "-number")[:RECENT]
    )
    return {
        "org": org,
        "api_base": _api_base(request),
        "centers": org.centers.prefetch_related("hours"),
        "tokens": int(ratelimit.tokens_now(org, clock.now())),
        "faults_form": FaultsForm.for_organization(org),
        "rate_form": RateLimitForm.for_organization(org),
        "appointments": recent_appointments,
        "invoices": recent_invoices,
        **bound_forms,
    }


@login_required
@require_GET
def organization(request, slug):
    org = get_object_or_404(SandboxOrganization.objects.prefetch_related("api_keys"), slug=slug)
    return render(request, "sandbox/organization.html", _organization_ctx(request, org))


def _settings_saved(request, org, form, *, partial, form_name, message):
    """The answer to a settings form: its card again (htmx) or the page."""
    saved = form.is_bound and not form.errors
    if request.htmx:
        ctx = _organization_ctx(request, org, **({} if saved else {form_name: form}))
        ctx["saved"] = saved
        return render(request, f"sandbox/organization.html#{partial}", ctx)
    if saved:
        messages.success(request, f"{org.name}: {message}")
        return redirect("sandbox-org", org.slug)
    ctx = _organization_ctx(request, org, **{form_name: form})
    return render(request, "sandbox/organization.html", ctx)


@login_required
@require_POST
def faults_update(request, slug):
    org = get_object_or_404(SandboxOrganization, slug=slug)
    form = FaultsForm.for_organization(org, request.POST)
    if form.is_valid():
        for name, value in form.cleaned_data.items():
            setattr(org, name, value)
        org.save(update_fields=list(form.cleaned_data))
    return _settings_saved(
        request, org, form, partial="faults", form_name="faults_form", message="fault knobs saved."
    )


@login_required
@require_POST
def rate_limit_update(request, slug):
    with transaction.atomic():
        org = get_object_or_404(SandboxOrganization.objects.select_for_update(), slug=slug)
        form = RateLimitForm.for_organization(org, request.POST)
        if form.is_valid():
            for name, value in form.cleaned_data.items():
                setattr(org, name, value)
            # A new limit starts with a full bucket.
            org.bucket_tokens = None
            org.bucket_checked_at = None
            org.save(update_fields=[*form.cleaned_data, "bucket_tokens", "bucket_checked_at"])
    return _settings_saved(
        request,
        org,
        form,
        partial="rate-limit",
        form_name="rate_form",
        message="rate limit saved; the bucket is full again.",
    )


STATUS_ACTIONS = {"cancel": Appointment.Status.CANCELLED, "no-show": Appointment.Status.NO_SHOW}


@login_required
@require_POST
def appointment_status(request, slug, appointment_id):
    appointment = get_object_or_404(
        Appointment.objects.select_related("center", "guest", "service", "therapist"),
        organization__slug=slug,
        pk=appointment_id,
    )
    status = STATUS_ACTIONS.get(request.POST.get("action", ""))
    if status is None:
        return HttpResponseBadRequest("Unknown action: use cancel or no-show.")
    if appointment.status != Appointment.Status.CANCELLED:
        actions.set_appointment_status(appointment, status)
    if request.htmx:
        ctx = {"appointment": appointment, "org": appointment.organization}
        return render(request, "sandbox/organization.html#appointment-row", ctx)
    return redirect("sandbox-org", slug)


# --- Hosted payment page -------------------------------------------------------------


def _back_to(payment, status):
    """The caller's redirect_uri with a `status` it must not trust: it reads the invoice."""
    parts = urlsplit(payment.redirect_uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "status"]
    query.append(("status", status))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _payment(token):
    payment = get_object_or_404(
        Payment.objects.select_related(
            "invoice__center", "invoice__guest", "invoice__organization"
        ),
        token=token,
    )
    actions.release_lapsed_holds(payment.invoice.organization)
    payment.invoice.refresh_from_db()
    return payment


def _pay_ctx(payment, **extra):
    invoice = payment.invoice
    items = invoice.appointments.select_related("service", "therapist").order_by("start")
    return {
        "payment": payment,
        "invoice": invoice,
        "center": invoice.center,
        "items": items,
        "amount": invoice.balance if invoice.status == Invoice.Status.OPEN else payment.amount,
        "cancel_url": _back_to(payment, "cancelled"),
        "return_url": _back_to(
            payment, "success" if invoice.status == Invoice.Status.CLOSED else "failed"
        ),
        "return_host": urlsplit(payment.redirect_uri).netloc,
        **extra,
    }


def _payment_page(request, template, ctx):
    """Browsers apply form-action to the redirect that follows a form post too: the page
    must allow the caller's redirect_uri origin, or the guest never gets back."""
    response = render(request, template, ctx)
    parts = urlsplit(ctx["payment"].redirect_uri)
    response._csp_config = {
        **settings.SECURE_CSP,
        "form-action": [CSP.SELF, f"{parts.scheme}://{parts.netloc}"],
    }
    return response


@require_http_methods(["GET", "POST"])
def pay(request, token):
    payment = _payment(token)
    invoice = payment.invoice
    if invoice.status != Invoice.Status.OPEN:
        return render(request, "sandbox/pay_done.html", _pay_ctx(payment))
    if payment.status == Payment.Status.AUTHENTICATING:
        return redirect("sandbox-pay-authenticate", payment.token)
    form = CardForm(request.POST or None)
    declined = False
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["card_number"]
        if number == CARD_SUCCESS:
            if actions.complete_payment(payment, number[-4:]):
                return HttpResponseRedirect(_back_to(payment, "success"))
            return redirect("sandbox-pay", payment.token)  # the invoice closed meanwhile
        if number == CARD_3DS:
            payment.card_last4 = number[-4:]
            payment.save(update_fields=["card_last4"])
            actions.set_payment_status(payment, Payment.Status.AUTHENTICATING)
            return redirect("sandbox-pay-authenticate", payment.token)
        declined = number == CARD_DECLINE
        if not declined:
            form.add_error("card_number", "This test page accepts only the test cards below.")
    auth_failed = request.method == "GET" and request.GET.get("auth") == "failed"
    ctx = _pay_ctx(
        payment,
        form=form,
        declined=declined,
        auth_failed=auth_failed,
        test_cards=[
            (number, " ".join(number[i : i + 4] for i in range(0, 16, 4)), outcome)
            for number, outcome in TEST_CARDS
        ],
        # A guest leaving after a refusal goes back with why (a hint: the caller reads the
        # invoice to know whether anything was paid).
        **({"cancel_url": _back_to(payment, "declined")} if declined or auth_failed else {}),
    )
    return _payment_page(request, "sandbox/pay.html", ctx)


@require_http_methods(["GET", "POST"])
def pay_authenticate(request, token):
    payment = _payment(token)
    if (
        payment.status != Payment.Status.AUTHENTICATING
        or payment.invoice.status != Invoice.Status.OPEN
    ):
        return redirect("sandbox-pay", payment.token)
    if request.method == "POST":
        if request.POST.get("outcome") == "complete":
            if actions.complete_payment(payment, payment.card_last4):
                return HttpResponseRedirect(_back_to(payment, "success"))
            return redirect("sandbox-pay", payment.token)
        actions.set_payment_status(payment, Payment.Status.PENDING)
        return redirect(reverse("sandbox-pay", args=[payment.token]) + "?auth=failed")
    return _payment_page(request, "sandbox/pay_authenticate.html", _pay_ctx(payment))


# --- Example host page -----------------------------------------------------------------

# The demo organization's website widget (tenants' seed_demo creates it).
CAMPAIGN_LINKS = [
    ("Google Ads click", "?utm_source=google&utm_medium=cpc&utm_campaign=winter&gclid=TEST123"),
    (
        "Instagram ad",
        "?utm_source=instagram&utm_medium=paid_social&utm_campaign=winter&fbclid=TEST456",
    ),
    ("Newsletter", "?utm_source=newsletter&utm_medium=email&utm_campaign=january"),
]


@require_GET
def host(request):
    """A made-up salon website with the demo widget embedded inline and as a popup, and links
    to itself carrying campaign parameters: the demo's and the browser tests' host page."""
    widget = Widget.objects.select_related("organization").filter(code=DEMO_WIDGET_CODE).first()
    origin = normalise_origin(request.build_absolute_uri("/"))
    ctx = {
        "widget": widget,
        "demo_widget": DEMO_WIDGET_CODE,
        "origin": origin,
        "may_frame": widget is not None and origin in embed_origins(widget),
        "campaign_links": CAMPAIGN_LINKS,
    }
    response = render(request, "sandbox/host.html", ctx)
    # The funnel may live on another origin (SITE_URL) than this page: let it be framed.
    site = normalise_origin(settings.SITE_URL)
    response._csp_config = {
        **settings.SECURE_CSP,
        "frame-src": [CSP.SELF, site] if site else [CSP.SELF],
    }
    return response


# --- Webhook receiver --------------------------------------------------------------------

RECEIVED_SHOWN = 50
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _verify(request, body):
    """Check the signature with the independent `standardwebhooks` library, using the secrets
    of the endpoint(s) registered for this URL — what a customer's receiver would do."""
    try:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError
    except ImportError:
        return False, "the standardwebhooks package is not installed"
    from attribution.models import WebhookEndpoint

    headers = {name: request.headers.get(name, "") for name in SIGNATURE_HEADERS}
    endpoints = WebhookEndpoint.objects.filter(url=request.build_absolute_uri())
    for endpoint in endpoints:
        for secret in endpoint.secrets_at():
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return True, ""
    if not endpoints:
        return False, "no endpoint is registered for this address"
    return False, "signature does not match the endpoint's secret"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receiver(request):
    """POST: a webhook from Chairfill, stored with whether its signature verified. GET: the
    list (sign in first)."""
    if request.method == "POST":
        body = request.body.decode("utf-8", errors="replace")
        verified, error = _verify(request, request.body)
        try:
            event_type = json.loads(body).get("type", "")
        except (ValueError, AttributeError):
            event_type = ""
        ReceivedWebhook.objects.create(
            webhook_id=request.headers.get("webhook-id", "")[:100],
            event_type=str(event_type)[:40],
            headers={name: request.headers.get(name, "") for name in SIGNATURE_HEADERS},
            body=body,
            verified=verified,
            verify_error=error,
        )
        return HttpResponse(status=204)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    ctx = {
        "received": ReceivedWebhook.objects.all()[:RECEIVED_SHOWN],
        "receiver_url": request.build_absolute_uri(),
    }
    return render(request, "sandbox/receiver.html", ctx)
