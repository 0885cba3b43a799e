"""An organization's Zenoti centers: list, connect, edit (the key is write-only), enable/disable."""

from django.contrib import messages
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import actions
from tenants.access import org_member_required, org_object
from tenants.forms.centers import CenterForm
from tenants.models import KEY_EXPIRY_WARNING_DAYS, Center, Role

DUPLICATE_MESSAGE = "This Zenoti center is already connected."


def _row_ctx(request):
    return {
        "can_manage": request.access.can(Role.MANAGER),
        "warning_days": KEY_EXPIRY_WARNING_DAYS,
    }


@org_member_required()
@require_GET
def center_list(request, organization):
    ctx = {
        "nav": "centers",
        "centers": Center.objects.filter(organization=organization),
        **_row_ctx(request),
    }
    return render(request, "tenants/centers/list.html", ctx)


# The key passes through these views in plaintext: sensitive_post_parameters hides it in
# the request section of error reports, and sensitive_variables() (all names) hides every
# local of these frames and of the form and action frames below them.
@sensitive_post_parameters("api_key")
@sensitive_variables()
@org_member_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def center_add(request, organization):
    form = CenterForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            center = actions.create_center(
                request.user,
                organization,
                api_key=form.cleaned_data["api_key"],
                **form.center_fields(),
            )
        except IntegrityError:
            # Another request connected the same center between validation and insert.
            form.add_error("zenoti_center_id", DUPLICATE_MESSAGE)
        else:
            messages.success(request, f"{center.name} is connected.")
            return redirect("tenants-centers", organization.slug)
    ctx = {"nav": "centers", "form": form, "center": None}
    return render(request, "tenants/centers/form.html", ctx)


@sensitive_post_parameters("api_key")
@sensitive_variables()
@org_member_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def center_edit(request, organization, code):
    center = org_object(Center, organization, code=code)
    form = CenterForm(request.POST or None, organization=organization, center=center)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_center(
                request.user, center, api_key=form.cleaned_data["api_key"], **form.center_fields()
            )
        except IntegrityError:
            form.add_error("zenoti_center_id", DUPLICATE_MESSAGE)
        else:
            if form.cleaned_data["api_key"]:
                messages.success(request, f"{center.name}: saved, with the new API key.")
            else:
                messages.success(request, f"{center.name}: saved.")
            return redirect("tenants-centers", organization.slug)
    ctx = {"nav": "centers", "form": form, "center": center}
    return render(request, "tenants/centers/form.html", ctx)


@org_member_required(Role.MANAGER)
@require_POST
def center_toggle(request, organization, code):
    center = org_object(Center, organization, code=code)
    # The button posts the state it asks for, so a double click does not flip it back.
    wanted = request.POST.get("enabled")
    enabled = wanted == "1" if wanted in ("0", "1") else not center.enabled
    actions.set_center_enabled(request.user, center, enabled)
    if request.htmx:
        ctx = {"center": center, **_row_ctx(request)}
        return render(request, "tenants/centers/list.html#center-row", ctx)
    state = "enabled: it takes bookings" if center.enabled else "disabled: it takes no bookings"
    messages.success(request, f"{center.name} is {state}.")
    return redirect("tenants-centers", organization.slug)
