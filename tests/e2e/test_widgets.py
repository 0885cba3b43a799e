"""Widget pages in a real Chromium, at a phone and a desktop width: a manager creates a widget,
the live preview follows the headline as it is typed, and the embed code is there to copy."""

import re

from playwright.sync_api import expect

from booking.models import Widget
from tests.booking.conftest import in_process_zenoti, sandbox_center, sandbox_lumen  # noqa: F401
from tests.conftest import PASSWORD
from tests.e2e.conftest import htmx_settled, sign_in


def test_manager_creates_a_widget_with_a_live_preview(page, shot, org, manager, sandbox_center):  # noqa: F811
    sign_in(page, manager.email, PASSWORD)
    page.goto(f"/app/{org.slug}/widgets/")
    expect(page.get_by_role("heading", name="Let guests book online")).to_be_visible()
    shot(page, "widgets-empty")

    page.get_by_role("link", name="Create widget").click()
    page.get_by_label("Widget name").fill("Website")
    page.get_by_label("Your website addresses").fill("www.lumen.example/")
    page.get_by_label("Popup button").check()
    # The preview follows the form as it is edited, before anything is saved.
    page.get_by_label("Headline").fill("Book your glow-up")
    preview = page.locator("#widget-preview")
    expect(preview).to_contain_text("Book your glow-up")
    expect(preview).to_contain_text("On your site:")  # the floating popup button
    htmx_settled(page)
    shot(page, "widget-add")
    page.get_by_role("button", name="Create widget").click()

    widget = Widget.objects.get(organization=org)
    expect(page.get_by_role("heading", name="Website")).to_be_visible()
    assert widget.headline == "Book your glow-up"
    assert widget.allowed_origins == ["https://www.lumen.example"]
    assert widget.mode == "popup"
    expect(page.locator("#embed-popup")).to_contain_text(f"/w/{widget.code}.js")
    expect(page.locator("#embed-inline")).to_contain_text(f'data-chairfill-widget="{widget.code}"')
    expect(page.locator("button[data-copy='#embed-inline']")).to_be_visible()
    expect(page.locator("#embed-link")).to_contain_text(f"/b/{org.slug}/{widget.code}/")
    shot(page, "widget-edit")

    page.get_by_role("link", name="All widgets").click()
    row = page.get_by_role("row", name=re.compile("Website"))
    row.get_by_role("button", name=re.compile("Turn off")).click()
    expect(row.get_by_text("Off", exact=True)).to_be_visible()
    shot(page, "widgets-list")
