"""Member pages of the booking app: Test connection on a center, the API health page."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from booking import health
from booking.services import check_connection
from tenants.access import org_member_required, org_object
from tenants.models import Center, Role


# Manager and up: it changes nothing, but it spends the organization's rate-limit budget.
@org_member_required(Role.MANAGER)
@require_POST
def test_connection(request, organization, code):
    center = org_object(Center, organization, code=code)
    result = check_connection(center)
    if request.htmx:
        ctx = {"center": center, "result": result}
        return render(request, "booking/test_connection.html", ctx)
    (messages.success if result.ok else messages.error)(request, f"{center.name}: {result.message}")
    return redirect("tenants-centers", organization.slug)


@org_member_required()
@require_GET
def api_health(request, organization):
    window = request.GET.get("window", "24h")
    if window not in health.WINDOWS:
        window = "24h"
    figures = health.api_health(organization, window)
    ctx = {
        "nav": "api-health",
        "has_calls": health.has_calls(organization),
        "chart": health.chart(figures["bars"], window),
        "windows": [("24h", "24 hours"), ("7d", "7 days")],
        "reserve": settings.ZENOTI_BACKGROUND_RESERVE,
        **figures,
    }
    return render(request, "booking/api_health.html", ctx)
