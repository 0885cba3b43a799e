"""The dashboard in a real Chromium, at a phone and a desktop width: sign-up, connecting a
center, referral rules edited with htmx, inviting a member, the agency console, and a
viewer's read-only view. Every test also fails on any console error (CSP violations included)."""

import re

from django.core import mail
from playwright.sync_api import expect

from tenants.models import Center, Invitation, Membership, Organization, ReferralRule, Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import htmx_settled, sign_in

ZENOTI_KEY = "zk_live_e2e_0123456789abcdef9Q7Z"


def test_new_owner_signs_up_and_connects_a_center(page, shot, transactional_db):
    page.goto("/accounts/signup/")
    page.get_by_label("Your name").fill("Nora Nails")
    page.get_by_label("Email").fill("nora@polish.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Salon or business name").fill("Polish Bar")
    shot(page, "signup")
    page.get_by_role("button", name=re.compile("Create")).click()

    expect(page.get_by_role("heading", name="Polish Bar")).to_be_visible()
    expect(page.get_by_text("Connect your first Zenoti center", exact=True)).to_be_visible()
    shot(page, "dashboard-new")

    page.get_by_role("link", name="Connect a center").first.click()
    page.get_by_label("Center name").fill("Polish Bar Midtown")
    page.get_by_label("Zenoti center ID").fill("3FA85F64-5717-4562-B3FC-2C963F66AFA6")
    page.get_by_label("API key").fill(ZENOTI_KEY)
    shot(page, "center-add")
    page.get_by_role("button", name="Connect center").click()

    expect(page.get_by_text("Polish Bar Midtown").first).to_be_visible()
    expect(page.get_by_text("••••9Q7Z").first).to_be_visible()
    assert ZENOTI_KEY not in page.content()
    shot(page, "centers")
    organization = Organization.objects.get(name="Polish Bar")
    center = Center.objects.get(organization=organization)
    assert center.api_key == ZENOTI_KEY
    assert center.zenoti_center_id == "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def test_manager_edits_referral_rules_without_reloading(page, shot, org, manager):
    sign_in(page, manager.email, PASSWORD)
    page.goto(f"/app/{org.slug}/settings/")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    # A marker on the window survives htmx swaps but not a full page load.
    page.evaluate("window.__sameDocument = true")

    def add_rule(field, value, source_id, label):
        form = page.locator("form[hx-post$='/settings/referral/rules/']")
        form.get_by_label("When").select_option(field)
        form.get_by_label("Value").fill(value)
        form.get_by_label("Zenoti referral source ID").fill(source_id)
        form.get_by_label("Referral source name").fill(label)
        form.get_by_role("button", name="Add rule").click()
        expect(page.locator("#rules-list").get_by_text(label).first).to_be_visible()
        htmx_settled(page)

    add_rule("utm_source", "google", "11111111-2222-4333-8444-555555555555", "Google Ads")
    add_rule("click_network", "meta", "66666666-7777-4888-9999-000000000000", "Meta Ads")
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_role("button", name="Move rule 2 up").click()
    expect(page.locator("#rules-list .rule").first).to_contain_text("Meta Ads")
    htmx_settled(page)
    assert list(ReferralRule.objects.filter(organization=org).values_list("label", flat=True)) == [
        "Meta Ads",
        "Google Ads",
    ]

    page.get_by_label("Landing page address").fill(
        "https://lumen.example/book?utm_source=google&utm_medium=cpc&gclid=abc"
    )
    page.get_by_role("button", name="Test this visit").click()
    result = page.locator("#test")
    expect(result).to_contain_text("Google Ads")
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "settings")


def test_owner_invites_a_teammate_who_joins(page, shot, org, owner, browser, live_server):
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/app/{org.slug}/members/")
    invite = page.locator("form.invite-form")
    invite.get_by_label("Email").fill("stylist@lumen.test")
    invite.get_by_label("Role").select_option("manager")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invitations")).to_contain_text("stylist@lumen.test")
    shot(page, "members")

    link = re.search(r"https?://\S+/accounts/invitations/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("/accounts/", 1)[1]
    guest = browser.new_context(base_url=live_server.url).new_page()
    guest.goto(f"/accounts/{path}")
    guest.get_by_label("Your name").fill("Sol Stylist")
    guest.get_by_label("Password", exact=True).fill(PASSWORD)
    guest.get_by_role("button", name="Create account and join").click()
    expect(guest.get_by_role("heading", name=org.name)).to_be_visible()
    guest.context.close()
    membership = Membership.objects.get(organization=org, user__email="stylist@lumen.test")
    assert membership.role == Role.MANAGER
    assert Invitation.objects.get(email="stylist@lumen.test").accepted_at is not None


def test_agency_member_opens_a_client_from_the_console(page, shot, agency, org, agency_member):
    sign_in(page, agency_member.email, PASSWORD)
    page.get_by_role("link", name=re.compile(agency.name)).first.click()
    expect(page.get_by_role("heading", name=agency.name)).to_be_visible()
    expect(page.get_by_text("No center connected")).to_be_visible()
    shot(page, "agency-console")
    page.get_by_role("row", name=re.compile(org.name)).get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=org.name)).to_be_visible()


def test_viewer_sees_settings_read_only(page, shot, org, viewer, center):
    sign_in(page, viewer.email, PASSWORD)
    page.goto(f"/app/{org.slug}/settings/")
    expect(page.get_by_role("button", name="Save branding")).to_have_count(0)
    expect(page.get_by_role("button", name="Add rule")).to_have_count(0)
    # Anyone may try a visit against the rules.
    expect(page.get_by_role("button", name="Test this visit")).to_be_visible()
    page.goto(f"/app/{org.slug}/centers/")
    expect(page.get_by_text("••••WXYZ")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Disable"))).to_have_count(0)
    shot(page, "centers-viewer")
