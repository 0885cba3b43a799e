"""The organization settings page: branding, referral-source defaults and rules, test a visit."""

import pytest
from django.urls import reverse

from tenants.models import AuditLog, ReferralRule

GOOGLE_ADS = "11111111-1111-1111-1111-111111111111"
META = "22222222-2222-2222-2222-222222222222"
WEBSITE = "33333333-3333-3333-3333-333333333333"
HTMX = {"HTTP_HX_REQUEST": "true"}

BRANDING = {
    "display_name": "Lumen Hair & Spa",
    "logo_url": "https://cdn.lumen.test/logo.svg",
    "brand_color": "#0F766E",
    "accent_color": "#f97316",
    "button_radius": "12",
    "timezone": "America/Chicago",
}


def url(name, org, *args):
    return reverse(name, args=[org.slug, *args])


def add_rule(org, field="utm_source", value="google", source=GOOGLE_ADS, label="Google Ads"):
    position = ReferralRule.objects.filter(organization=org).count()
    return ReferralRule.objects.create(
        organization=org,
        position=position,
        field=field,
        value=value,
        referral_source_id=source,
        label=label,
    )


def positions(org):
    return list(
        ReferralRule.objects.filter(organization=org)
        .order_by("position")
        .values_list("value", "position")
    )


@pytest.fixture
def three_rules(org):
    return [add_rule(org, value=v) for v in ("google", "facebook", "bing")]


# --- The page -----------------------------------------------------------------------------


def test_viewer_sees_settings_read_only(login, org, viewer, three_rules):
    response = login(viewer).get(url("tenants-settings", org))
    assert response.status_code == 200
    assert "ask a manager or an owner" in response.text
    assert "Save branding" not in response.text
    assert "Add a rule" not in response.text
    assert "Test this visit" in response.text
    assert "facebook" in response.text


def test_manager_sees_editable_settings(login, org, manager):
    response = login(manager).get(url("tenants-settings", org))
    assert response.status_code == 200
    assert "Save branding" in response.text
    assert "Add a rule" in response.text
    assert "No rules yet" in response.text
    assert "utm_source equals “google” → Google Ads" in response.text


def test_page_has_no_inline_style_attributes(login, org, manager, three_rules):
    response = login(manager).get(url("tenants-settings", org))
    assert " style=" not in response.text
    assert 'fill="#7c3aed"' in response.text  # the preview paints with SVG attributes


# --- Branding -----------------------------------------------------------------------------


def test_manager_saves_branding(login, org, manager):
    response = login(manager).post(url("tenants-branding", org), BRANDING)
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.display_name == "Lumen Hair & Spa"
    assert org.brand_color == "#0f766e"
    assert org.button_radius == 12
    assert org.timezone == "America/Chicago"
    entry = AuditLog.objects.get(organization=org, action="settings.branding_changed")
    assert entry.actor == manager
    assert entry.details["changed"]["brand_color"] == ["#7c3aed", "#0f766e"]


def test_branding_saved_with_htmx_returns_the_card(login, org, manager):
    response = login(manager).post(url("tenants-branding", org), BRANDING, **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="branding"' in response.text
    assert "Saved" in response.text
    assert 'fill="#0f766e"' in response.text


def test_saving_unchanged_branding_leaves_no_audit_entry(login, org, manager):
    client = login(manager)
    client.post(url("tenants-branding", org), BRANDING)
    client.post(url("tenants-branding", org), BRANDING)
    assert AuditLog.objects.filter(action="settings.branding_changed").count() == 1


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("brand_color", "purple", "six hex digits"),
        ("accent_color", "#12345g", "six hex digits"),
        ("logo_url", "http://cdn.lumen.test/logo.png", "https://"),
        ("logo_url", "not a url at all", "full address"),
        ("button_radius", "29", "from 0 to 28"),
        ("button_radius", "-1", "from 0 to 28"),
        ("button_radius", "round", "from 0 to 28"),
        ("timezone", "Mars/Olympus", "Choose a time zone"),
    ],
)
def test_invalid_branding_shows_field_error_and_saves_nothing(
    login, org, manager, field, value, message
):
    response = login(manager).post(url("tenants-branding", org), {**BRANDING, field: value}, **HTMX)
    assert response.status_code == 200
    assert message in response.text
    assert f'id="id_{field}_error"' in response.text
    org.refresh_from_db()
    assert org.display_name == ""
    assert not AuditLog.objects.filter(action="settings.branding_changed").exists()


def test_invalid_branding_as_plain_post_renders_the_whole_page(login, org, manager):
    response = login(manager).post(url("tenants-branding", org), {**BRANDING, "brand_color": "x"})
    assert response.status_code == 200
    assert "<html" in response.text
    assert "six hex digits" in response.text


def test_branding_preview_renders_without_saving(login, org, manager):
    data = {**BRANDING, "preview": "1", "button_radius": "99"}
    response = login(manager).post(url("tenants-branding", org), data, **HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<figure")
    assert 'fill="#0f766e"' in response.text
    assert "corners 8 px" in response.text  # the invalid radius falls back to the saved one
    org.refresh_from_db()
    assert org.brand_color == "#7c3aed"


def test_text_on_a_light_brand_color_is_dark(login, org, manager):
    data = {**BRANDING, "preview": "1", "brand_color": "#fde047", "logo_url": ""}
    response = login(manager).post(url("tenants-branding", org), data, **HTMX)
    assert 'fill="#1b1e2b">Lumen Hair &amp; Spa' in response.text


# --- Referral defaults --------------------------------------------------------------------


def test_manager_sets_the_default_referral_source(login, org, manager):
    data = {
        "default_referral_source_id": WEBSITE.upper(),
        "default_referral_source_label": "Website",
        "referral_source_required": "on",
    }
    response = login(manager).post(url("tenants-referral-defaults", org), data)
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.default_referral_source_id == WEBSITE
    assert org.referral_source_required
    assert AuditLog.objects.filter(action="settings.referral_defaults_changed").exists()


def test_required_switch_without_default_is_refused(login, org, manager):
    data = {"default_referral_source_id": "", "referral_source_required": "on"}
    response = login(manager).post(url("tenants-referral-defaults", org), data, **HTMX)
    assert response.status_code == 200
    assert "requires a referral source, so set a default" in response.text
    org.refresh_from_db()
    assert not org.referral_source_required


def test_default_that_is_not_a_guid_is_refused(login, org, manager):
    data = {"default_referral_source_id": "google-ads"}
    response = login(manager).post(url("tenants-referral-defaults", org), data, **HTMX)
    assert "are GUIDs like" in response.text
    org.refresh_from_db()
    assert org.default_referral_source_id == ""


# --- Rules: add ---------------------------------------------------------------------------

RULE = {
    "field": "utm_source",
    "operator": "equals",
    "value": "google",
    "referral_source_id": GOOGLE_ADS,
    "label": "Google Ads",
}


def test_manager_adds_a_rule_at_the_end(login, org, manager, three_rules):
    response = login(manager).post(url("tenants-rule-add", org), {**RULE, "value": "tiktok"})
    assert response.status_code == 302
    assert positions(org)[-1] == ("tiktok", 3)
    entry = AuditLog.objects.get(action="referral_rule.added")
    assert entry.details["referral_source_id"] == GOOGLE_ADS


def test_rule_added_with_htmx_returns_the_referral_card(login, org, manager):
    response = login(manager).post(url("tenants-rule-add", org), RULE, **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="referral"' in response.text
    assert "rule-new" in response.text
    assert positions(org) == [("google", 0)]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("referral_source_id", "google-ads", "are GUIDs like"),
        ("referral_source_id", "", "Paste the referral source"),
        ("value", "   ", "Enter the value to look for"),
        ("field", "utm_content", "Select a valid choice"),
        ("operator", "regex", "Select a valid choice"),
    ],
)
def test_invalid_rule_shows_field_error_and_saves_nothing(
    login, org, manager, field, value, message
):
    response = login(manager).post(url("tenants-rule-add", org), {**RULE, field: value}, **HTMX)
    assert response.status_code == 200
    assert message in response.text
    assert f'id="rule_{field}_error"' in response.text
    assert not ReferralRule.objects.exists()


def test_click_network_rule_needs_a_known_network(login, org, manager):
    data = {**RULE, "field": "click_network", "value": "facebook"}
    response = login(manager).post(url("tenants-rule-add", org), data, **HTMX)
    assert "No ad click ID belongs to “facebook”" in response.text
    assert "meta" in response.text
    assert not ReferralRule.objects.exists()


def test_referrer_domain_rule_is_stored_as_a_bare_domain(login, org, manager):
    data = {**RULE, "field": "referrer_domain", "value": "https://www.Instagram.com/salon"}
    login(manager).post(url("tenants-rule-add", org), data)
    assert ReferralRule.objects.get(organization=org).value == "instagram.com"


# --- Rules: move and delete ---------------------------------------------------------------


def test_move_down_swaps_with_the_next_rule(login, org, manager, three_rules):
    google = three_rules[0]
    response = login(manager).post(
        url("tenants-rule-move", org, google.code), {"direction": "down"}
    )
    assert response.status_code == 302
    assert positions(org) == [("facebook", 0), ("google", 1), ("bing", 2)]
    assert AuditLog.objects.filter(action="referral_rule.moved").count() == 1


def test_move_up_with_htmx_returns_the_rules_list(login, org, manager, three_rules):
    bing = three_rules[2]
    response = login(manager).post(
        url("tenants-rule-move", org, bing.code), {"direction": "up"}, **HTMX
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="rules-list"')
    assert positions(org) == [("google", 0), ("bing", 1), ("facebook", 2)]


def test_move_up_at_the_top_changes_nothing(login, org, manager, three_rules):
    response = login(manager).post(
        url("tenants-rule-move", org, three_rules[0].code), {"direction": "up"}, **HTMX
    )
    assert response.status_code == 200
    assert positions(org) == [("google", 0), ("facebook", 1), ("bing", 2)]
    assert not AuditLog.objects.filter(action="referral_rule.moved").exists()


def test_move_with_a_made_up_direction_is_a_bad_request(login, org, manager, three_rules):
    response = login(manager).post(
        url("tenants-rule-move", org, three_rules[0].code), {"direction": "sideways"}
    )
    assert response.status_code == 400


def test_move_repairs_gaps_in_positions(login, org, manager, three_rules):
    ReferralRule.objects.filter(pk=three_rules[2].pk).update(position=9)
    login(manager).post(url("tenants-rule-move", org, three_rules[2].code), {"direction": "up"})
    assert positions(org) == [("google", 0), ("bing", 1), ("facebook", 2)]


def test_delete_renumbers_the_remaining_rules(login, org, manager, three_rules):
    response = login(manager).post(url("tenants-rule-delete", org, three_rules[0].code))
    assert response.status_code == 302
    assert positions(org) == [("facebook", 0), ("bing", 1)]
    entry = AuditLog.objects.get(action="referral_rule.deleted")
    assert "google" in entry.target


def test_delete_with_htmx_returns_the_rules_list(login, org, manager, three_rules):
    response = login(manager).post(url("tenants-rule-delete", org, three_rules[1].code), **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "facebook" not in response.text
    assert positions(org) == [("google", 0), ("bing", 1)]


def test_deleting_the_last_rule_shows_the_empty_state(login, org, manager):
    rule = add_rule(org)
    response = login(manager).post(url("tenants-rule-delete", org, rule.code), **HTMX)
    assert "No rules yet" in response.text


@pytest.mark.parametrize("name", ["tenants-rule-move", "tenants-rule-delete"])
def test_rule_of_another_organization_is_404(login, org, other_org, manager, name):
    theirs = add_rule(other_org)
    response = login(manager).post(url(name, org, theirs.code), {"direction": "down"})
    assert response.status_code == 404
    assert ReferralRule.objects.filter(pk=theirs.pk).exists()


# --- Roles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,data,with_code",
    [
        ("tenants-branding", BRANDING, False),
        ("tenants-referral-defaults", {"default_referral_source_id": WEBSITE}, False),
        ("tenants-rule-add", RULE, False),
        ("tenants-rule-move", {"direction": "down"}, True),
        ("tenants-rule-delete", {}, True),
    ],
)
def test_viewer_gets_403_on_every_write(login, org, viewer, three_rules, name, data, with_code):
    args = [three_rules[0].code] if with_code else []
    response = login(viewer).post(url(name, org, *args), data)
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.display_name == "" and org.default_referral_source_id == ""
    assert positions(org) == [("google", 0), ("facebook", 1), ("bing", 2)]
    assert not AuditLog.objects.exists()


def test_agency_member_can_edit_as_manager(login, org, agency_member):
    response = login(agency_member).post(url("tenants-rule-add", org), RULE)
    assert response.status_code == 302
    assert ReferralRule.objects.filter(organization=org).count() == 1


# --- Test a visit -------------------------------------------------------------------------


def test_visit_test_shows_facts_and_the_matching_rule(login, org, viewer, three_rules):
    add_rule(org, field="click_network", value="meta", source=META, label="Meta Ads")
    params = {
        "landing_url": "https://lumen.test/book?utm_medium=paid&fbclid=abc",
        "referrer": "https://www.facebook.com/",
    }
    response = login(viewer).get(url("tenants-rule-test", org), params, **HTMX)
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text
    assert "<code>paid</code>" in text
    assert "<code>meta</code>" in text
    assert "<code>facebook.com</code>" in text
    assert "Rule 4 matches:" in text
    assert 'hx-swap-oob="true"' in text  # the rules list comes along, highlighting rule 4
    assert "Matches the test visit" in text


def test_visit_test_without_htmx_renders_the_page(login, org, viewer, three_rules):
    params = {"landing_url": "https://lumen.test/?utm_source=bing"}
    response = login(viewer).get(url("tenants-rule-test", org), params)
    assert response.status_code == 200
    assert "<html" in response.text
    assert "Rule 3 matches:" in response.text


def test_visit_test_falls_back_to_the_default(login, org, viewer, three_rules):
    org.default_referral_source_id = WEBSITE
    org.default_referral_source_label = "Website"
    org.save()
    params = {"landing_url": "lumen.test/?utm_source=newsletter"}
    response = login(viewer).get(url("tenants-rule-test", org), params, **HTMX)
    assert "No rule matches" in response.text
    assert "the default referral source Website" in response.text


def test_visit_test_without_default_warns_when_a_source_is_required(login, org, viewer):
    org.referral_source_required = True
    org.save()
    params = {"landing_url": "https://lumen.test/"}
    response = login(viewer).get(url("tenants-rule-test", org), params, **HTMX)
    assert "No rule matches and no default" in response.text
    assert "Zenoti would refuse this guest" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"landing_url": "not a url"},
        {"landing_url": "http://[::1"},
        {"landing_url": "javascript:alert(1)"},
        {"landing_url": "https://lumen.test/", "referrer": "::::"},
        {"landing_url": ""},
        {"landing_url": "https://" + "a" * 3000 + ".test/"},
    ],
)
def test_visit_test_with_garbage_explains_instead_of_failing(login, org, viewer, params):
    response = login(viewer).get(url("tenants-rule-test", org), params, **HTMX)
    assert response.status_code == 200
    assert 'class="error"' in response.text
    assert "What Chairfill sees" not in response.text
