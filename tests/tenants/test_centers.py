"""Centers pages: the list, connecting and editing a center (write-only API key), enabling and
disabling it, the key-expiry banner, and keeping the key out of pages, audit entries and
error reports."""

import re
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from tenants.models import AuditLog, Center
from tenants.views import centers as center_views

KEY = "zk_live_1234567890abcdefWXYZ"
NEW_KEY = "zk_live_new_0987654321zyxwABCD"
GUID = "9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e"


@pytest.fixture(autouse=True)
def _organization_time(org):
    # Organization pages show dates in the organization's time zone: expect the same ones.
    with timezone.override(org.timezone):
        yield


def list_url(org):
    return reverse("tenants-centers", args=[org.slug])


def add_url(org):
    return reverse("tenants-center-add", args=[org.slug])


def edit_url(center):
    return reverse("tenants-center-edit", args=[center.organization.slug, center.code])


def toggle_url(center):
    return reverse("tenants-center-toggle", args=[center.organization.slug, center.code])


def form_data(**overrides):
    data = {
        "name": "Lumen Uptown",
        "zenoti_center_id": GUID,
        "timezone": "America/Chicago",
        "api_base_url": "https://api.zenoti.com/v1",
        "api_key": NEW_KEY,
        "api_key_expires_on": (timezone.localdate() + timedelta(days=365)).isoformat(),
        "enabled": "on",
    }
    data.update(overrides)
    return data


def edit_data(center, **overrides):
    data = form_data(
        name=center.name,
        zenoti_center_id=center.zenoti_center_id,
        timezone=center.timezone,
        api_base_url=center.api_base_url,
        api_key="",
        api_key_expires_on="",
    )
    data.update(overrides)
    return data


# --- The list ---


def test_viewer_sees_centers_with_only_the_masked_key(login, org, viewer, center):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=200)
    center.save()
    response = login(viewer).get(list_url(org))
    assert response.status_code == 200
    html = response.text
    assert "Lumen Downtown" in html
    assert "••••WXYZ" in html
    assert KEY not in html
    assert "api.zenoti.com" in html
    assert "America/New_York" in html
    assert f'title="Zenoti center ID {center.zenoti_center_id}"' in html
    assert "Enabled" in html
    assert "OK" in html
    # Viewers cannot change anything.
    assert edit_url(center) not in html
    assert toggle_url(center) not in html
    assert add_url(org) not in html


def test_manager_sees_edit_and_toggle_buttons(login, org, manager, center):
    html = login(manager).get(list_url(org)).text
    assert edit_url(center) in html
    assert toggle_url(center) in html
    assert add_url(org) in html


@pytest.mark.parametrize(
    "days,text",
    [
        (-3, "Expired"),
        (0, "Expires today"),
        (1, "Expires in 1 day<"),
        (12, "Expires in 12 days"),
        (90, "OK"),
        (None, "No date set"),
    ],
)
def test_key_expiry_badge_reads_as_plain_words(login, org, viewer, center, days, text):
    center.api_key_expires_on = None if days is None else timezone.localdate() + timedelta(days)
    center.save()
    assert text in login(viewer).get(list_url(org)).text


def test_empty_list_explains_what_is_needed_from_zenoti(login, org, manager):
    html = login(manager).get(list_url(org)).text
    assert "Connect your first Zenoti center" in html
    assert "center ID" in html
    assert "Apps page" in html
    assert "valid for one year" in html
    assert add_url(org) in html


def test_empty_list_tells_viewers_who_connects_centers(login, org, viewer):
    html = login(viewer).get(list_url(org)).text
    assert "Connect your first Zenoti center" in html
    assert add_url(org) not in html
    assert "A manager or owner" in html


def test_list_shows_only_this_organizations_centers(login, org, other_org, viewer, center):
    Center.objects.create(
        organization=other_org,
        zenoti_center_id=GUID,
        name="Other Spa Central",
        timezone="Europe/London",
        api_key="other-key-1234",
    )
    html = login(viewer).get(list_url(org)).text
    assert "Lumen Downtown" in html
    assert "Other Spa Central" not in html


# --- The key never leaves the server ---


def test_edit_form_never_prefills_the_key(login, manager, center):
    response = login(manager).get(edit_url(center))
    assert response.status_code == 200
    html = response.text
    assert KEY not in html
    assert "••••WXYZ" in html
    key_input = re.search(r'<input[^>]*name="api_key"[^>]*>', html).group(0)
    assert 'type="password"' in key_input
    assert "value=" not in key_input


def test_rejected_form_does_not_echo_the_submitted_key(login, org, manager):
    response = login(manager).post(add_url(org), form_data(zenoti_center_id="nope"))
    assert response.status_code == 200
    assert NEW_KEY not in response.text


def test_repr_and_str_of_a_center_hold_no_key(center):
    assert KEY not in repr(center)
    assert KEY not in str(center)
    assert "WXYZ" not in repr(center)


def test_error_reports_hide_the_posted_key(org, manager):
    request = RequestFactory().post(add_url(org), form_data())
    request.user = manager
    request.session = {}
    request._messages = FallbackStorage(request)
    with mock.patch.object(center_views.actions, "create_center", side_effect=RuntimeError):
        try:
            center_views.center_add(request, org.slug)
        except RuntimeError:
            exc_info = sys.exc_info()
    html = ExceptionReporter(request, *exc_info).get_traceback_html()
    assert "RuntimeError" in html
    assert NEW_KEY not in html
    text = ExceptionReporter(request, *exc_info).get_traceback_text()
    assert NEW_KEY not in text


# --- Connecting a center ---


def test_manager_connects_a_center(login, org, manager):
    response = login(manager).post(add_url(org), form_data())
    assert response.status_code == 302
    assert response.url == list_url(org)
    center = Center.objects.get(organization=org)
    assert center.name == "Lumen Uptown"
    assert center.zenoti_center_id == GUID
    assert center.timezone == "America/Chicago"
    assert center.api_key == NEW_KEY
    assert center.enabled
    entry = AuditLog.objects.get(organization=org, action="center.created")
    assert entry.actor == manager
    assert NEW_KEY not in str(entry.details)
    assert NEW_KEY not in entry.target


def test_add_form_suggests_org_timezone_and_expiry_a_year_ahead(login, org, manager):
    html = login(manager).get(add_url(org)).text
    expected = (timezone.localdate() + timedelta(days=365)).isoformat()
    assert f'value="{expected}"' in html
    assert '<option value="America/New_York" selected>' in html


def test_agency_member_connects_a_center(login, org, agency_member):
    response = login(agency_member).post(add_url(org), form_data())
    assert response.status_code == 302
    assert Center.objects.filter(organization=org, zenoti_center_id=GUID).exists()


def test_key_pasted_with_its_header_prefix_is_stored_without_it(login, org, manager):
    login(manager).post(add_url(org), form_data(api_key=f"apikey {NEW_KEY}"))
    assert Center.objects.get(organization=org).api_key == NEW_KEY


def test_center_id_is_stored_in_lower_case(login, org, manager):
    login(manager).post(add_url(org), form_data(zenoti_center_id=GUID.upper()))
    assert Center.objects.get(organization=org).zenoti_center_id == GUID


@override_settings(DEBUG=True)
def test_http_localhost_api_is_allowed_in_development(login, org, manager):
    url = "http://127.0.0.1:8000/sandbox/zenoti/v1/"
    response = login(manager).post(add_url(org), form_data(api_base_url=url))
    assert response.status_code == 302
    center = Center.objects.get(organization=org)
    assert center.api_base_url == "http://127.0.0.1:8000/sandbox/zenoti/v1"
    assert center.api_host == "127.0.0.1:8000"


@override_settings(DEBUG=False, SANDBOX_ENABLED=False)
@pytest.mark.parametrize(
    "url,accepted",
    [
        ("https://api.zenoti.com/v1", True),
        ("https://API.Zenoti.com/v1", True),
        ("https://api-eu.zenoti.com/v1", True),
        ("https://10.0.0.7/v1", False),
        ("https://metadata.internal/v1", False),
        ("https://evilzenoti.com/v1", False),
        ("https://api.zenoti.com.evil.example/v1", False),
    ],
)
def test_in_production_only_zenoti_hosts_are_accepted(login, org, manager, url, accepted):
    response = login(manager).post(add_url(org), form_data(api_base_url=url))
    assert Center.objects.filter(organization=org).exists() is accepted
    if not accepted:
        assert "connects only to Zenoti" in response.text


def test_the_same_zenoti_center_may_belong_to_two_organizations(login, org, other_org, manager):
    Center.objects.create(
        organization=other_org,
        zenoti_center_id=GUID,
        name="Elsewhere",
        timezone="Europe/London",
        api_key="other-key-1234",
    )
    response = login(manager).post(add_url(org), form_data())
    assert response.status_code == 302


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "   ", "Enter a name"),
        ("zenoti_center_id", "not-a-guid", "not a Zenoti center ID"),
        ("zenoti_center_id", "", "Enter the Zenoti center ID"),
        ("api_base_url", "", "Enter the API address"),
        ("timezone", "Mars/Olympus_Mons", "Choose a time zone"),
        ("api_base_url", "http://api.zenoti.com/v1", "must start with https://"),
        ("api_base_url", "http://localhost:8000/v1", "must start with https://"),
        ("api_base_url", "ftp://api.zenoti.com/v1", "starting with https://"),
        ("api_base_url", "api.zenoti.com", "starting with https://"),
        ("api_base_url", "https://api.zenoti.com:abc/v1", "Enter a web address"),
        ("api_base_url", "https://user:pw@api.zenoti.com/v1", "without a user name"),
        ("api_key", "", "Paste the API key"),
        ("api_key", "abc def ghi jkl", "no spaces"),
        ("api_key", "short", "too short"),
        ("api_key_expires_on", "31/31/2026", "Enter a date"),
        ("api_key_expires_on", "2001-01-01", "That date has passed"),
        ("api_key_expires_on", "9999-12-31", "Check the year"),
    ],
)
def test_invalid_input_gives_a_field_error_and_creates_nothing(
    login, org, manager, field, value, message
):
    response = login(manager).post(add_url(org), form_data(**{field: value}))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    assert message.replace("'", "&#x27;") in response.text
    assert not Center.objects.filter(organization=org).exists()
    assert not AuditLog.objects.filter(action="center.created").exists()


def test_duplicate_zenoti_center_id_is_a_field_error(login, org, manager, center):
    response = login(manager).post(
        add_url(org), form_data(zenoti_center_id=center.zenoti_center_id.upper())
    )
    assert response.status_code == 200
    assert (
        "already connected as “Lumen Downtown”"
        in response.context["form"].errors["zenoti_center_id"][0]
    )
    assert Center.objects.filter(organization=org).count() == 1


def test_duplicate_caught_by_the_database_is_a_field_error(login, org, manager, center):
    # A second request that passed validation at the same moment as the first.
    with mock.patch("tenants.forms.centers.CenterForm.clean_zenoti_center_id") as clean:
        clean.return_value = center.zenoti_center_id
        response = login(manager).post(add_url(org), form_data())
    assert response.status_code == 200
    assert "already connected" in response.context["form"].errors["zenoti_center_id"][0]
    assert Center.objects.filter(organization=org).count() == 1


def test_garbage_post_does_not_crash(login, org, manager):
    response = login(manager).post(
        add_url(org), {"name": "x" * 5000, "zenoti_center_id": "\x00", "api_key_expires_on": "-"}
    )
    assert response.status_code == 200
    assert not Center.objects.exists()


def test_viewer_gets_403_on_add(login, org, viewer):
    client = login(viewer)
    assert client.get(add_url(org)).status_code == 403
    assert client.post(add_url(org), form_data()).status_code == 403
    assert not Center.objects.exists()


# --- Editing ---


def test_blank_key_on_edit_keeps_the_old_key(login, manager, center):
    response = login(manager).post(edit_url(center), edit_data(center, name="Lumen Midtown"))
    assert response.status_code == 302
    center.refresh_from_db()
    assert center.name == "Lumen Midtown"
    assert center.api_key == KEY
    entry = AuditLog.objects.get(action="center.updated")
    assert entry.details == {"changed": ["name"]}
    assert not AuditLog.objects.filter(action="center.key_replaced").exists()


def test_manager_requires_online_payment_for_a_center(login, manager, center):
    client = login(manager)
    assert "Guests pay online when they book" in client.get(edit_url(center)).text
    response = client.post(edit_url(center), edit_data(center, payment_required="on"))
    assert response.status_code == 302
    center.refresh_from_db()
    assert center.payment_required
    entry = AuditLog.objects.get(action="center.updated")
    assert entry.details == {"changed": ["payment_required"]}
    assert 'id="id_payment_required" checked' in client.get(edit_url(center)).text


def test_new_key_on_edit_replaces_it(login, manager, center):
    expires = (timezone.localdate() + timedelta(days=365)).isoformat()
    response = login(manager).post(
        edit_url(center), edit_data(center, api_key=NEW_KEY, api_key_expires_on=expires)
    )
    assert response.status_code == 302
    center.refresh_from_db()
    assert center.api_key == NEW_KEY
    entry = AuditLog.objects.get(action="center.key_replaced")
    assert NEW_KEY not in str(entry.details)
    assert KEY not in str(entry.details)
    assert "ABCD" not in str(entry.details)


def test_saving_unchanged_form_writes_no_audit_entry(login, manager, center):
    login(manager).post(edit_url(center), edit_data(center))
    assert not AuditLog.objects.filter(action__startswith="center.").exists()


def test_new_key_with_the_old_keys_expiry_date_asks_for_the_new_date(login, manager, center):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=5)
    center.save()
    response = login(manager).post(
        edit_url(center),
        edit_data(
            center, api_key=NEW_KEY, api_key_expires_on=center.api_key_expires_on.isoformat()
        ),
    )
    assert response.status_code == 200
    assert "old key's expiry date" in response.context["form"].errors["api_key_expires_on"][0]
    center.refresh_from_db()
    assert center.api_key == KEY


def test_an_already_expired_date_can_be_kept_while_editing_other_fields(login, manager, center):
    center.api_key_expires_on = timezone.localdate() - timedelta(days=3)
    center.save()
    response = login(manager).post(
        edit_url(center),
        edit_data(center, enabled="", api_key_expires_on=center.api_key_expires_on.isoformat()),
    )
    assert response.status_code == 302
    center.refresh_from_db()
    assert not center.enabled


def test_editing_to_a_center_id_already_connected_is_a_field_error(login, org, manager, center):
    other = Center.objects.create(
        organization=org, zenoti_center_id=GUID, name="Second", timezone="UTC", api_key="k" * 20
    )
    response = login(manager).post(
        edit_url(other), edit_data(other, zenoti_center_id=center.zenoti_center_id)
    )
    assert response.status_code == 200
    assert "already connected" in response.context["form"].errors["zenoti_center_id"][0]
    other.refresh_from_db()
    assert other.zenoti_center_id == GUID


def test_viewer_gets_403_on_edit(login, viewer, center):
    client = login(viewer)
    assert client.get(edit_url(center)).status_code == 403
    response = client.post(edit_url(center), edit_data(center, name="Hijacked"))
    assert response.status_code == 403
    center.refresh_from_db()
    assert center.name == "Lumen Downtown"


def test_manager_gets_404_for_a_center_of_another_organization(login, org, other_org, manager):
    foreign = Center.objects.create(
        organization=other_org,
        zenoti_center_id=GUID,
        name="Foreign",
        timezone="UTC",
        api_key="foreign-key-1234",
    )
    url = reverse("tenants-center-edit", args=[org.slug, foreign.code])
    client = login(manager)
    assert client.get(url).status_code == 404
    toggle = reverse("tenants-center-toggle", args=[org.slug, foreign.code])
    assert client.post(toggle).status_code == 404
    foreign.refresh_from_db()
    assert foreign.enabled


# --- Enabling and disabling ---


def test_toggle_with_htmx_swaps_the_row(login, manager, center):
    response = login(manager).post(toggle_url(center), {"enabled": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.text
    assert html.strip().startswith(f'<tr id="center-{center.code}"')
    assert "Disabled" in html
    assert "<html" not in html
    assert KEY not in html
    center.refresh_from_db()
    assert not center.enabled
    assert AuditLog.objects.filter(action="center.disabled", actor=manager).exists()


def test_plain_toggle_redirects_back_with_a_message(login, org, manager, center):
    client = login(manager)
    client.post(toggle_url(center), {"enabled": "0"})
    response = client.post(toggle_url(center), {"enabled": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == list_url(org)
    assert "Lumen Downtown is enabled" in response.text
    center.refresh_from_db()
    assert center.enabled


def test_toggle_twice_with_the_same_wish_does_not_flip_back(login, manager, center):
    client = login(manager)
    client.post(toggle_url(center), {"enabled": "0"})
    client.post(toggle_url(center), {"enabled": "0"})
    center.refresh_from_db()
    assert not center.enabled
    assert AuditLog.objects.filter(action="center.disabled").count() == 1


def test_toggle_without_a_wish_flips_the_state(login, manager, center):
    login(manager).post(toggle_url(center))
    center.refresh_from_db()
    assert not center.enabled


def test_viewer_gets_403_on_toggle(login, viewer, center):
    assert login(viewer).post(toggle_url(center)).status_code == 403
    center.refresh_from_db()
    assert center.enabled


def test_toggle_needs_post(login, manager, center):
    assert login(manager).get(toggle_url(center)).status_code == 405


# --- The key-expiry banner on every organization page ---


@pytest.mark.parametrize("url_name", ["tenants-centers", "tenants-dashboard"])
def test_banner_warns_about_a_key_expiring_within_30_days(login, org, viewer, center, url_name):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=10)
    center.save()
    html = login(viewer).get(reverse(url_name, args=[org.slug])).text
    assert "Zenoti API key expiring." in html
    assert "Lumen Downtown: expires in 10 days" in html


def test_banner_names_an_expired_key(login, org, viewer, center):
    center.api_key_expires_on = timezone.localdate() - timedelta(days=2)
    center.save()
    html = login(viewer).get(list_url(org)).text
    assert "Lumen Downtown: expired" in html


def test_no_banner_for_a_key_valid_for_60_days(login, org, viewer, center):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=60)
    center.save()
    assert "Zenoti API key expiring" not in login(viewer).get(list_url(org)).text


def test_no_banner_for_a_disabled_center(login, org, viewer, center):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=10)
    center.enabled = False
    center.save()
    assert "Zenoti API key expiring" not in login(viewer).get(list_url(org)).text


def test_no_banner_for_another_organizations_center(login, other_org, outsider, center):
    center.api_key_expires_on = timezone.localdate() + timedelta(days=10)
    center.save()
    html = login(outsider).get(reverse("tenants-centers", args=[other_org.slug])).text
    assert "Zenoti API key expiring" not in html


# --- Django admin ---


@pytest.fixture
def staff(db):
    from tenants.models import User

    return User.objects.create_superuser(email="staff@chairfill.test", password="x" * 20)


def test_admin_change_page_shows_only_the_masked_key(client, staff, center):
    client.force_login(staff)
    response = client.get(reverse("admin:tenants_center_change", args=[center.pk]))
    assert response.status_code == 200
    assert KEY not in response.text
    assert "••••WXYZ" in response.text
    assert 'name="api_key"' not in response.text
    key_input = re.search(r'<input[^>]*name="new_api_key"[^>]*>', response.text).group(0)
    assert "value=" not in key_input


def test_admin_replaces_the_key_only_when_a_new_one_is_given(client, staff, center):
    client.force_login(staff)
    url = reverse("admin:tenants_center_change", args=[center.pk])
    data = {
        "organization": center.organization_id,
        "name": center.name,
        "zenoti_center_id": center.zenoti_center_id,
        "timezone": center.timezone,
        "api_base_url": center.api_base_url,
        "api_key_expires_on": "",
        "enabled": "on",
        "new_api_key": "",
    }
    assert client.post(url, data).status_code == 302
    center.refresh_from_db()
    assert center.api_key == KEY
    assert client.post(url, {**data, "new_api_key": NEW_KEY}).status_code == 302
    center.refresh_from_db()
    assert center.api_key == NEW_KEY


def test_admin_lists_every_tenants_model(client, staff):
    client.force_login(staff)
    html = client.get(reverse("admin:app_list", args=["tenants"])).text
    for name in ["Users", "Agencies", "Organizations", "Memberships", "Invitations", "Centers"]:
        assert name in html
    assert "Audit logs" in html and "Referral rules" in html
    assert "Agency memberships" in html


def test_anonymous_user_is_sent_to_login_from_centers(client, org):
    response = client.get(list_url(org))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_rejected_form_asks_to_paste_the_key_again(login, org, manager):
    response = login(manager).post(add_url(org), form_data(zenoti_center_id="nope"))
    assert "Paste the key again" in response.text
    assert NEW_KEY not in response.text
