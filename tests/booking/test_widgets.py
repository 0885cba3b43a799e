"""Widget pages of members: the list, creating and editing with the service menu from the
catalog, the live preview, the embed code, turning a widget on and off, and who may do what."""

from unittest import mock

import pytest
from django import forms
from django.urls import reverse

from booking.forms import WidgetForm, normalize_origin
from booking.models import Widget
from booking.zenoti.errors import UpstreamUnavailableError
from tenants.models import AuditLog, Center

SOHO_SERVICES = 11  # bookable online at the sandbox's Lumen SoHo


@pytest.fixture
def widget(org, center):
    return Widget.objects.create(organization=org, name="Website", allowed_origins=[])


@pytest.fixture
def offline_catalog():
    """Zenoti cannot be reached: every catalog read fails."""
    with mock.patch(
        "booking.catalog.services", side_effect=UpstreamUnavailableError("Zenoti is down.")
    ) as patched:
        yield patched


def urls(org, widget):
    return {
        "list": reverse("booking-widgets", args=[org.slug]),
        "add": reverse("booking-widget-add", args=[org.slug]),
        "edit": reverse("booking-widget-edit", args=[org.slug, widget.code]),
        "toggle": reverse("booking-widget-toggle", args=[org.slug, widget.code]),
        "preview": reverse("booking-widget-preview", args=[org.slug]),
    }


def form_data(**overrides):
    data = {
        "name": "Instagram bio",
        "enabled": "on",
        "allow_provider_choice": "on",
        "mode": "inline",
        "brand_color": "#112233",
        "accent_color": "#445566",
        "button_text": "Book now",
        "allowed_origins": "",
    }
    data.update(overrides)
    return data


# --- Who may do what ---


@pytest.mark.parametrize("name", ["list", "add", "edit", "toggle", "preview"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_on_every_widget_url(login, org, outsider, widget, name, method):
    response = getattr(login(outsider), method)(urls(org, widget)[name], form_data())
    assert response.status_code == 404


def test_a_widget_of_another_organization_is_a_404(login, org, other_org, manager):
    theirs = Widget.objects.create(organization=other_org, name="Theirs")
    client = login(manager)
    assert client.get(urls(org, theirs)["edit"]).status_code == 404
    assert client.post(urls(org, theirs)["toggle"], {"enabled": "0"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled


@pytest.mark.parametrize("name", ["add", "edit", "toggle", "preview"])
def test_viewer_gets_403_on_writes(login, org, viewer, widget, name):
    response = login(viewer).post(urls(org, widget)[name], form_data(name="Changed"))
    assert response.status_code == 403
    widget.refresh_from_db()
    assert widget.name == "Website" and widget.enabled


def test_viewer_sees_the_list_and_a_read_only_widget(login, org, viewer, widget):
    client = login(viewer)
    page = client.get(urls(org, widget)["list"]).text
    assert "Website" in page and "Turn off" not in page and "Create widget" not in page
    page = client.get(urls(org, widget)["edit"]).text
    assert "ask a manager or an owner" in page
    assert '<fieldset class="widget-fields" disabled>' in page
    assert "Save changes" not in page and "hx-post" not in page
    assert f"data-chairfill-widget=&quot;{widget.code}&quot;" in page  # embed code for all


def test_viewer_gets_403_on_the_add_page(login, org, viewer, widget):
    assert login(viewer).get(urls(org, widget)["add"]).status_code == 403


# --- The list ---


def test_empty_list_explains_widgets_and_offers_to_create_one(login, org, manager):
    page = login(manager).get(reverse("booking-widgets", args=[org.slug])).text
    assert "A widget is your booking page" in page
    assert "popup button" in page and "direct link" in page
    assert reverse("booking-widget-add", args=[org.slug]) in page


def test_list_shows_mode_state_centers_and_direct_link(login, org, manager, center, settings):
    settings.SITE_URL = "https://book.chairfill.test"
    Widget.objects.create(organization=org, name="Everywhere", mode="popup")
    picky = Widget.objects.create(organization=org, name="Downtown only", enabled=False)
    picky.centers.set([center])
    page = login(manager).get(reverse("booking-widgets", args=[org.slug])).text
    assert "Popup button" in page and "Inline on the page" in page
    assert "All centers (1)" in page and "Lumen Downtown" in page
    assert f"https://book.chairfill.test/b/lumen/{picky.code}/" in page
    assert "Turn on" in page and "Turn off" in page
    assert "Not on a site yet" in page


def test_list_shows_only_this_organizations_widgets(login, org, other_org, viewer, widget):
    Widget.objects.create(organization=other_org, name="Someone else's")
    page = login(viewer).get(reverse("booking-widgets", args=[org.slug])).text
    assert "Website" in page and "Someone else" not in page


def test_sidebar_links_to_widgets(login, org, viewer):
    page = login(viewer).get(reverse("tenants-dashboard", args=[org.slug])).text
    assert reverse("booking-widgets", args=[org.slug]) in page


# --- Creating and editing ---


def test_manager_creates_a_widget(login, org, manager, center):
    response = login(manager).post(
        reverse("booking-widget-add", args=[org.slug]),
        form_data(
            centers=[center.code],
            custom_colors="on",
            headline="  Book your glow-up  ",
            allowed_origins="https://WWW.Lumen.example/\nlumen.example\nhttps://www.lumen.example",
            thank_you_url="https://lumen.example/thanks",
        ),
    )
    widget = Widget.objects.get(organization=org)
    assert response.status_code == 302
    assert response.url == reverse("booking-widget-edit", args=[org.slug, widget.code])
    assert widget.name == "Instagram bio"
    assert list(widget.centers.all()) == [center]
    assert widget.headline == "Book your glow-up"
    assert (widget.brand_color, widget.accent_color) == ("#112233", "#445566")
    assert widget.allowed_origins == ["https://www.lumen.example", "https://lumen.example"]
    assert widget.thank_you_url == "https://lumen.example/thanks"
    entry = AuditLog.objects.get(action="widget.created")
    assert (entry.organization, entry.actor, entry.target) == (org, manager, "Instagram bio")


def test_agency_member_creates_a_widget(login, org, agency_member):
    response = login(agency_member).post(
        reverse("booking-widget-add", args=[org.slug]), form_data()
    )
    assert response.status_code == 302
    assert Widget.objects.filter(organization=org).count() == 1


def test_without_custom_colors_the_widget_follows_the_organization(login, org, manager):
    login(manager).post(reverse("booking-widget-add", args=[org.slug]), form_data())
    widget = Widget.objects.get(organization=org)
    assert (widget.brand_color, widget.accent_color) == ("", "")
    assert widget.brand == org.brand_color


def test_manager_edits_a_widget_and_the_change_is_audited(login, org, manager, widget):
    response = login(manager).post(
        urls(org, widget)["edit"], form_data(name="Website", mode="popup", button_text="Reserve")
    )
    assert response.status_code == 302
    widget.refresh_from_db()
    assert (widget.mode, widget.button_text) == ("popup", "Reserve")
    entry = AuditLog.objects.get(action="widget.updated")
    assert entry.actor == manager and entry.details["code"] == widget.code
    assert set(entry.details["changed"]) >= {"mode", "button_text"}


def test_saving_an_unchanged_widget_writes_no_audit_entry(login, org, manager, widget):
    client = login(manager)
    client.post(urls(org, widget)["edit"], form_data(name="Website"))
    AuditLog.objects.all().delete()
    client.post(urls(org, widget)["edit"], form_data(name="Website"))
    assert not AuditLog.objects.exists()


def test_invalid_input_gives_field_errors_in_plain_words(login, org, manager):
    response = login(manager).post(
        reverse("booking-widget-add", args=[org.slug]),
        form_data(
            name="",
            custom_colors="on",
            brand_color="red",
            logo_url="http://lumen.example/logo.png",
            thank_you_url="http://lumen.example/thanks",
            allowed_origins="https://lumen.example/book",
        ),
    )
    assert response.status_code == 200
    page = response.text
    assert "Give the widget a name" in page
    assert "Enter a color as # followed by six hex digits" in page
    assert "browsers block plain http images" in page
    assert "Use an https:// address for the thank-you page." in page
    assert "without a page path" in page
    assert not Widget.objects.exists()


def test_a_center_of_another_organization_is_refused(login, org, other_org, manager, center):
    theirs = Center.objects.create(
        organization=other_org,
        zenoti_center_id="9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e",
        name="Other Spa Soho",
        timezone="Europe/London",
        api_key="zk_other_1234567890",
    )
    response = login(manager).post(
        reverse("booking-widget-add", args=[org.slug]),
        form_data(centers=[center.code, theirs.code]),
    )
    assert response.status_code == 200
    assert "Choose centers from the list." in response.text
    assert not Widget.objects.exists()


def test_the_form_refuses_a_foreign_center_even_offered_as_a_choice(org, other_org, center):
    theirs = Center.objects.create(
        organization=other_org,
        zenoti_center_id="9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e",
        name="Other",
        timezone="Europe/London",
        api_key="zk_other_1234567890",
    )
    form = WidgetForm(form_data(centers=[theirs.code]), organization=org, load_menu=False)
    form.fields["centers"].choices = [(theirs.code, "Other")]  # as if the list were tampered
    assert not form.is_valid()
    assert form.errors["centers"] == ["Choose centers from the list."]


def test_a_disabled_center_of_the_widget_is_kept_when_saving(login, org, manager, widget, center):
    widget.centers.set([center])
    center.enabled = False
    center.save()
    client = login(manager)
    assert "Lumen Downtown (disabled: not offered)" in client.get(urls(org, widget)["edit"]).text
    client.post(urls(org, widget)["edit"], form_data(name="Website", centers=[center.code]))
    assert list(widget.centers.all()) == [center]


# --- Origins ---


@pytest.mark.parametrize(
    "typed,origin",
    [
        ("https://salon.example", "https://salon.example"),
        ("https://Salon.Example/", "https://salon.example"),
        ("HTTPS://www.salon.example:443", "https://www.salon.example"),
        ("https://salon.example:8443", "https://salon.example:8443"),
        ("salon.example", "https://salon.example"),
        ("  www.salon.example/  ", "https://www.salon.example"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised(typed, origin):
    assert normalize_origin(typed) == origin


@pytest.mark.parametrize(
    "typed,message",
    [
        ("http://salon.example", "use https://salon.example"),
        ("https://salon.example/book", "without a page path"),
        ("https://salon.example/?utm_source=x", "without a page path"),
        ("https://salon.example#book", "without a page path"),
        ("https://*.salon.example", "wildcards aren't allowed"),
        ("*", "wildcards aren't allowed"),
        ("ftp://salon.example", "enter a web address"),
        ("https://", "enter a web address"),
        ("https://user:pw@salon.example", "leave out the user name"),
        ("https://salon.example:99999", "not a web address"),
    ],
)
def test_bad_origins_are_refused_with_a_clear_message(typed, message):
    with pytest.raises(forms.ValidationError, match=message):
        normalize_origin(typed)


def test_origins_are_deduplicated_and_every_bad_line_is_named(org):
    form = WidgetForm(
        form_data(allowed_origins="salon.example\nhttps://salon.example/\n\nhttp://a.example\n*"),
        organization=org,
        load_menu=False,
    )
    assert not form.is_valid()
    assert len(form.errors["allowed_origins"]) == 2
    form = WidgetForm(
        form_data(allowed_origins="salon.example\nhttps://salon.example/, https://b.example"),
        organization=org,
        load_menu=False,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["allowed_origins"] == ["https://salon.example", "https://b.example"]


# --- The service menu from the catalog ---


def test_services_come_from_the_catalog_grouped_by_category(login, org, manager, sandbox_center):
    page = login(manager).get(reverse("booking-widget-add", args=[org.slug])).text
    assert "Balayage" in page and "Women's Haircut &amp; Style" in page
    assert "Kids' Cut" not in page  # not bookable online
    assert page.count('name="service_ids"') == SOHO_SERVICES
    assert page.count('name="category_ids"') == 4


def test_chosen_services_and_categories_are_saved(login, org, manager, sandbox_center):
    form = WidgetForm(organization=org)
    hair = next(g for g in form.menu if g.name == "Hair")
    balayage = next(s for g in form.menu for s, _ in g.services if s.name == "Balayage")
    login(manager).post(
        reverse("booking-widget-add", args=[org.slug]),
        form_data(category_ids=[hair.id], service_ids=[balayage.id]),
    )
    widget = Widget.objects.get(organization=org)
    assert (widget.category_ids, widget.service_ids) == ([hair.id], [balayage.id])
    page = login(manager).get(urls(org, widget)["edit"]).text
    assert page.count("checked") >= 2 and "1 of 3 picked" in page


def test_an_unknown_service_id_is_a_form_error(login, org, manager, sandbox_center):
    response = login(manager).post(
        reverse("booking-widget-add", args=[org.slug]), form_data(service_ids=["nope"])
    )
    assert "Choose services from the list." in response.text
    assert not Widget.objects.exists()


def test_a_catalog_outage_keeps_the_selection_and_shows_a_note(
    login, org, manager, widget, offline_catalog
):
    widget.service_ids = ["abc"]
    widget.save()
    client = login(manager)
    page = client.get(urls(org, widget)["edit"])
    assert page.status_code == 200
    assert "couldn't be loaded from Zenoti" in page.text and "Zenoti is down." in page.text
    response = client.post(
        urls(org, widget)["edit"], form_data(name="Renamed", service_ids=["other"])
    )
    assert response.status_code == 302
    widget.refresh_from_db()
    assert (widget.name, widget.service_ids) == ("Renamed", ["abc"])


def test_a_widget_can_be_created_during_a_catalog_outage(login, org, manager, offline_catalog):
    page = login(manager).get(reverse("booking-widget-add", args=[org.slug]))
    assert page.status_code == 200
    response = login(manager).post(reverse("booking-widget-add", args=[org.slug]), form_data())
    assert response.status_code == 302
    assert Widget.objects.get(organization=org).service_ids == []


# --- The live preview ---


def test_preview_shows_the_typed_headline_and_colors(login, org, manager):
    response = login(manager).post(
        reverse("booking-widget-preview", args=[org.slug]),
        form_data(custom_colors="on", headline="Glow up today", button_text="Reserve"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    page = response.text
    assert "Glow up today" in page and "Reserve" in page
    assert 'fill="#112233"' in page and 'stroke="#445566"' in page
    assert not AuditLog.objects.exists() and not Widget.objects.exists()


def test_preview_uses_only_validated_colors(login, org, manager):
    response = login(manager).post(
        reverse("booking-widget-preview", args=[org.slug]),
        form_data(custom_colors="on", brand_color='red"/><script>', accent_color="#zzzzzz"),
    )
    page = response.text
    assert "<script>" not in page and "#zzzzzz" not in page
    assert f'fill="{org.brand_color}"' in page and f'stroke="{org.accent_color}"' in page


def test_preview_without_custom_colors_shows_the_organizations(login, org, manager):
    page = login(manager).post(reverse("booking-widget-preview", args=[org.slug]), form_data()).text
    assert f'fill="{org.brand_color}"' in page and "#112233" not in page


def test_preview_does_not_read_the_catalog_while_typing(login, org, manager, center):
    with mock.patch("booking.catalog.services") as services:
        login(manager).post(
            reverse("booking-widget-preview", args=[org.slug]),
            form_data(menu_for=center.code, headline="Hi"),
        )
    services.assert_not_called()


def test_preview_sends_new_service_choices_when_the_centers_change(
    login, org, manager, sandbox_center
):
    response = login(manager).post(
        reverse("booking-widget-preview", args=[org.slug]),
        form_data(centers=[sandbox_center.code], menu_for="somethingelse"),
    )
    assert 'id="offer"' in response.text and 'hx-swap-oob="true"' in response.text
    assert "Balayage" in response.text


# --- Embed code ---


def test_edit_page_shows_the_embed_code_of_each_mode(login, org, manager, widget, settings):
    settings.SITE_URL = "https://book.chairfill.test"
    page = login(manager).get(urls(org, widget)["edit"]).text
    loader = f"https://book.chairfill.test/w/{widget.code}.js"
    assert (
        f"&lt;div data-chairfill-widget=&quot;{widget.code}&quot;&gt;&lt;/div&gt;\n"
        f"&lt;script src=&quot;{loader}&quot; async data-mode=&quot;inline&quot;&gt;&lt;/script&gt;"
    ) in page
    assert f"&lt;script src=&quot;{loader}&quot; async data-mode=&quot;popup&quot;&gt;" in page
    assert f"https://book.chairfill.test/b/lumen/{widget.code}/" in page
    assert page.count("data-copy=") == 3


def test_without_allowed_origins_the_page_warns_that_embedding_is_off(login, org, manager, widget):
    page = login(manager).get(urls(org, widget)["edit"]).text
    assert "Embedding is off until you add your site" in page
    widget.allowed_origins = ["https://lumen.example"]
    widget.save()
    page = login(manager).get(urls(org, widget)["edit"]).text
    assert "Embedding is off" not in page and "https://lumen.example" in page


# --- On and off ---


def test_manager_turns_a_widget_off_and_on(login, org, manager, widget):
    client = login(manager)
    response = client.post(urls(org, widget)["toggle"], {"enabled": "0"})
    assert response.status_code == 302
    widget.refresh_from_db()
    assert not widget.enabled
    client.post(urls(org, widget)["toggle"], {"enabled": "0"})  # a double click
    widget.refresh_from_db()
    assert not widget.enabled
    client.post(urls(org, widget)["toggle"], {"enabled": "1"})
    widget.refresh_from_db()
    assert widget.enabled
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["widget.disabled", "widget.enabled"]


def test_toggle_with_htmx_swaps_the_row(login, org, manager, widget):
    response = login(manager).post(
        urls(org, widget)["toggle"], {"enabled": "0"}, headers={"HX-Request": "true"}
    )
    assert response.text.strip().startswith(f'<tr id="widget-{widget.code}">')
    assert "Turn on" in response.text


def test_toggle_needs_post(login, org, manager, widget):
    assert login(manager).get(urls(org, widget)["toggle"]).status_code == 405
