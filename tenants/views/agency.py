"""The agency console: every client organization of an agency, and creating a new one."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tenants import actions
from tenants.access import agency_member_required
from tenants.forms.agency import ClientOrganizationForm
from tenants.models import KEY_EXPIRY_WARNING_DAYS, Organization


def _client_organizations(agency):
    soon = timezone.localdate() + timedelta(days=KEY_EXPIRY_WARNING_DAYS)
    return Organization.objects.filter(agency=agency).annotate(
        center_count=Count("centers", filter=Q(centers__enabled=True), distinct=True),
        expiring_keys=Count(
            "centers",
            filter=Q(centers__enabled=True, centers__api_key_expires_on__lte=soon),
            distinct=True,
        ),
        owner_count=Count("memberships", filter=Q(memberships__role="owner"), distinct=True),
        rule_count=Count("referral_rules", distinct=True),
    )


def _status(org):
    """One headline per client: what, if anything, needs the agency's attention."""
    if not org.is_active:
        return "Suspended", "danger"
    if org.expiring_keys:
        return "Zenoti key expiring", "warning"
    if not org.center_count:
        return "No center connected", "warning"
    if not org.owner_count:
        return "Owner not signed up", "muted"
    return "Live", "success"


def _render_console(request, agency, form, status=200):
    organizations = list(_client_organizations(agency))
    for org in organizations:
        org.status_label, org.status_tone = _status(org)
    ctx = {
        "agency": agency,
        "organizations": organizations,
        "live_count": sum(org.status_tone == "success" for org in organizations),
        "attention_count": sum(org.status_tone in ("warning", "danger") for org in organizations),
        "form": form,
    }
    return render(request, "tenants/agency/console.html", ctx, status=status)


@agency_member_required
@require_GET
def console(request, agency):
    return _render_console(request, agency, ClientOrganizationForm())


@agency_member_required
@require_POST
def create_organization(request, agency):
    form = ClientOrganizationForm(request.POST)
    if not form.is_valid():
        return _render_console(request, agency, form, status=400)
    organization = actions.create_client_organization(
        request.user,
        agency,
        name=form.cleaned_data["name"],
        timezone=form.cleaned_data["timezone"],
        owner_email=form.cleaned_data["owner_email"],
    )
    if form.cleaned_data["owner_email"]:
        messages.success(
            request,
            f"{organization.name} is ready. We emailed {form.cleaned_data['owner_email']} "
            "an invitation to join as owner.",
        )
    else:
        messages.success(request, f"{organization.name} is ready. Connect its first center.")
    return redirect("tenants-dashboard", organization.slug)
