"""The organization picker, an organization's dashboard and its activity (audit) log."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from tenants.access import agencies_for, org_member_required, organizations_for
from tenants.models import AuditLog, Center, Role


@require_GET
@login_required
def org_picker(request):
    organizations = list(organizations_for(request.user))
    agencies = list(agencies_for(request.user))
    if len(organizations) == 1 and not agencies:
        return redirect("tenants-dashboard", organizations[0].slug)
    ctx = {"organizations": organizations, "agencies": agencies}
    return render(request, "tenants/org_picker.html", ctx)


@org_member_required()
@require_GET
def dashboard(request, organization):
    centers = Center.objects.filter(organization=organization)
    organization_has_branding = bool(organization.display_name or organization.logo_url)
    steps = [
        {
            "title": "Connect your first Zenoti center",
            "text": "Paste the center ID and API key from Zenoti so Chairfill can read services "
            "and book appointments.",
            "done": centers.exists(),
            "url_name": "tenants-center-add" if not centers.exists() else "tenants-centers",
            "action": "Connect a center",
            "role": Role.MANAGER,
        },
        {
            "title": "Brand your booking pages",
            "text": "Your name, logo and colors on every page guests see.",
            "done": organization_has_branding,
            "url_name": "tenants-settings",
            "action": "Set up branding",
            "role": Role.MANAGER,
        },
        {
            "title": "Map ad traffic to Zenoti referral sources",
            "text": "Rules turn UTM parameters and ad clicks into the referral source Zenoti "
            "records on each new guest.",
            "done": organization.referral_rules.exists()
            or bool(organization.default_referral_source_id),
            "url_name": "tenants-settings",
            "action": "Add referral rules",
            "role": Role.MANAGER,
        },
        {
            "title": "Invite your team",
            "text": "Managers can change settings; viewers can watch the numbers.",
            "done": organization.memberships.count() > 1 or organization.invitations.exists(),
            "url_name": "tenants-members",
            "action": "Invite someone",
            "role": Role.OWNER,
        },
    ]
    for step in steps:
        step["allowed"] = request.access.can(step["role"])
    ctx = {
        "nav": "dashboard",
        "steps": steps,
        "steps_done": sum(step["done"] for step in steps),
        "center_count": centers.enabled().count(),
        "member_count": organization.memberships.count(),
        "rule_count": organization.referral_rules.count(),
        "recent": AuditLog.objects.filter(organization=organization).select_related("actor")[:5],
    }
    return render(request, "tenants/dashboard.html", ctx)


@org_member_required(Role.MANAGER)
@require_GET
def activity(request, organization):
    entries = AuditLog.objects.filter(organization=organization).select_related("actor")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    ctx = {"nav": "activity", "page": page}
    return render(request, "tenants/activity.html", ctx)
