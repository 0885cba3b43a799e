"""The organization settings page: branding of guest-facing pages, referral-source defaults
and rules, and a "test a visit" box. Everyone in the organization can look; managers edit.

Every write answers htmx with the partial it changed and a plain POST with a redirect (or
the full page with the form's errors)."""

from django.contrib import messages
from django.forms.models import model_to_dict
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from attribution.sources import visit_facts
from tenants import actions
from tenants.access import org_member_required, org_object
from tenants.forms.settings import (
    BrandingForm,
    ReferralDefaultsForm,
    ReferralRuleForm,
    VisitTestForm,
)
from tenants.models import ReferralRule, Role, readable_text_color
from tenants.referral import referral_source_for

PAGE = "tenants/settings/settings.html"
BRANDING_FIELDS = list(BrandingForm.base_fields)
REFERRAL_FIELDS = list(ReferralDefaultsForm.base_fields)
FACT_LABELS = [
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("click_network", "Ad click network"),
    ("referrer_domain", "Referrer domain"),
]


def _branding_form(organization, data=None):
    initial = model_to_dict(organization, fields=BRANDING_FIELDS)
    return BrandingForm(data, initial=initial, org_name=organization.name)


def _referral_form(organization, data=None):
    return ReferralDefaultsForm(data, initial=model_to_dict(organization, fields=REFERRAL_FIELDS))


def _preview(organization, form=None):
    """Values for the branding preview: the form's valid values, else the saved ones."""
    values = model_to_dict(organization, fields=BRANDING_FIELDS)
    if form is not None and form.is_bound:
        form.is_valid()
        values.update(form.cleaned_data)
    values["name"] = values["display_name"] or organization.name
    values["brand_text"] = readable_text_color(values["brand_color"])
    values["accent_text"] = readable_text_color(values["accent_color"])
    # The preview button is 36 px tall; CSS clamps a larger radius to a pill the same way.
    values["button_rx"] = min(values["button_radius"], 18)
    return values


def _ctx(request, organization, **overrides):
    rules = list(ReferralRule.objects.filter(organization=organization).order_by("position", "id"))
    ctx = {
        "nav": "settings",
        "org": organization,
        "can_edit": request.access.can(Role.MANAGER),
        "rules": rules,
        "rule_form": ReferralRuleForm(),
        "test_form": VisitTestForm(),
    }
    ctx.update(overrides)
    ctx.setdefault("branding_form", _branding_form(organization))
    ctx.setdefault("referral_form", _referral_form(organization))
    ctx.setdefault("preview", _preview(organization))
    return ctx


def _back_to_settings(organization, anchor):
    return redirect(reverse("tenants-settings", args=[organization.slug]) + f"#{anchor}")


@org_member_required()
@require_GET
def settings_page(request, organization):
    return render(request, PAGE, _ctx(request, organization))


@org_member_required(Role.MANAGER)
@require_POST
def branding(request, organization):
    form = _branding_form(organization, request.POST)
    if request.POST.get("preview"):
        # Live preview while the form is edited: nothing is saved.
        ctx = {"preview": _preview(organization, form), "can_edit": True, "org": organization}
        return render(request, f"{PAGE}#branding-preview", ctx)
    saved = False
    if form.is_valid():
        actions.update_organization_settings(
            request.user, organization, "settings.branding_changed", **form.cleaned_data
        )
        if not request.htmx:
            messages.success(request, "Branding saved.")
            return _back_to_settings(organization, "branding")
        form, saved = _branding_form(organization), True
    ctx = _ctx(request, organization, branding_form=form, branding_saved=saved)
    ctx["preview"] = _preview(organization, form)
    return render(request, f"{PAGE}#branding-card" if request.htmx else PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def referral_defaults(request, organization):
    form = _referral_form(organization, request.POST)
    saved = False
    if form.is_valid():
        actions.update_organization_settings(
            request.user, organization, "settings.referral_defaults_changed", **form.cleaned_data
        )
        if not request.htmx:
            messages.success(request, "Referral source settings saved.")
            return _back_to_settings(organization, "referral")
        form, saved = _referral_form(organization), True
    ctx = _ctx(request, organization, referral_form=form, referral_saved=saved)
    return render(request, f"{PAGE}#referral-card" if request.htmx else PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def rule_add(request, organization):
    form = ReferralRuleForm(request.POST)
    if form.is_valid():
        rule = actions.add_referral_rule(request.user, organization, **form.cleaned_data)
        if not request.htmx:
            messages.success(request, f"Rule added: {rule}.")
            return _back_to_settings(organization, "referral")
        ctx = _ctx(request, organization, added_pk=rule.pk)
    else:
        ctx = _ctx(request, organization, rule_form=form)
    return render(request, f"{PAGE}#referral-card" if request.htmx else PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_POST
def rule_delete(request, organization, code):
    rule = org_object(ReferralRule, organization, code=code)
    actions.delete_referral_rule(request.user, organization, rule)
    if not request.htmx:
        messages.success(request, f"Rule deleted: {rule}.")
        return _back_to_settings(organization, "referral")
    return render(request, f"{PAGE}#rules-list", _ctx(request, organization))


@org_member_required(Role.MANAGER)
@require_POST
def rule_move(request, organization, code):
    rule = org_object(ReferralRule, organization, code=code)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("Move a rule “up” or “down”.")
    actions.move_referral_rule(request.user, organization, rule, direction)
    if not request.htmx:
        return _back_to_settings(organization, "referral")
    return render(request, f"{PAGE}#rules-list", _ctx(request, organization))


@org_member_required()
@require_GET
def rule_test(request, organization):
    form = VisitTestForm(request.GET or None)
    ctx = _ctx(request, organization, test_form=form)
    if form.is_valid():
        facts = visit_facts(form.cleaned_data["landing_url"], form.cleaned_data["referrer"])
        result = referral_source_for(organization, facts, rules=ctx["rules"])
        ctx["visit"] = [(label, facts[key]) for key, label in FACT_LABELS]
        ctx["result"] = result
        ctx["match_pk"] = result.rule.pk if result.rule else None
    if not request.htmx:
        return render(request, PAGE, ctx)
    # The test card, and the rules list again out-of-band to highlight the matching rule.
    html = render_to_string(f"{PAGE}#test-card", ctx, request)
    html += render_to_string(f"{PAGE}#rules-list", {**ctx, "oob": True}, request)
    return HttpResponse(html)
