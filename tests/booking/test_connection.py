"""Test connection on the centers page: the center name and the number of services bookable
online, or what went wrong in plain words; managers only (it spends rate-limit budget)."""

import pytest
from django.urls import reverse

from booking import catalog
from booking.models import ZenotiCall
from sandbox.models import Service as SandboxService
from sandbox.testing import set_faults
from tenants.models import Center

from .conftest import LUMEN_KEY, SANDBOX_URL, WILLOW_ID

HTMX = {"HTTP_HX_REQUEST": "true"}


def connection_url(center):
    return reverse("booking-center-test", args=[center.organization.slug, center.code])


def bookable_count(zenoti_center_id):
    return SandboxService.objects.filter(centers__id=zenoti_center_id, can_book=True).count()


def test_success_names_the_center_and_counts_bookable_services(login, manager, sandbox_center):
    response = login(manager).post(connection_url(sandbox_center), **HTMX)
    assert response.status_code == 200
    expected = bookable_count(sandbox_center.zenoti_center_id)
    assert expected >= 1
    assert f"Connected to Lumen SoHo — {expected} services bookable online." in response.text
    assert 'class="test-result test-ok"' in response.text
    # Two calls in the log (center, services), and the services are cached for guest pages.
    assert len(catalog.services(sandbox_center)) == expected
    assert ZenotiCall.objects.filter(center=sandbox_center, outcome="ok").count() == 2


def test_a_bad_key_says_so(login, manager, sandbox_center):
    sandbox_center.api_key = "not-a-sandbox-key"
    sandbox_center.save()
    response = login(manager).post(connection_url(sandbox_center), **HTMX)
    assert "Zenoti refused the API key" in response.text
    assert 'class="test-result test-failed"' in response.text
    assert "not-a-sandbox-key" not in response.text
    assert ZenotiCall.objects.get().status == 401


def test_an_unknown_center_id_says_which(login, manager, sandbox_center):
    sandbox_center.zenoti_center_id = WILLOW_ID  # a center of another sandbox organization
    sandbox_center.save()
    response = login(manager).post(connection_url(sandbox_center), **HTMX)
    assert f"Zenoti doesn&#x27;t know the center ID {WILLOW_ID}" in response.text


def test_a_timeout_says_zenoti_did_not_answer(login, manager, sandbox_center, settings):
    settings.ZENOTI_DEADLINE = 0.5  # retries stop early instead of filling 20 s
    set_faults("lumen", hang_rate=1.0)
    response = login(manager).post(connection_url(sandbox_center), **HTMX)
    assert "Zenoti didn&#x27;t answer in time" in response.text
    assert ZenotiCall.objects.filter(outcome="timeout").exists()


def test_zenoti_down_says_so(login, manager, sandbox_center, settings):
    settings.ZENOTI_DEADLINE = 0.5
    set_faults("lumen", error_rate=1.0)
    response = login(manager).post(connection_url(sandbox_center), **HTMX)
    assert 'class="test-result test-failed"' in response.text
    assert "try again in a few minutes" in response.text


def test_without_htmx_the_result_is_a_message_on_the_centers_page(login, manager, sandbox_center):
    client = login(manager)
    response = client.post(connection_url(sandbox_center), follow=True)
    assert response.redirect_chain[-1][0] == reverse("tenants-centers", args=["lumen"])
    assert "SoHo: Connected to Lumen SoHo" in response.text


def test_the_centers_page_has_the_button_for_managers_only(login, manager, viewer, sandbox_center):
    centers_url = reverse("tenants-centers", args=["lumen"])
    assert connection_url(sandbox_center) in login(manager).get(centers_url).text
    assert connection_url(sandbox_center) not in login(viewer).get(centers_url).text


def test_viewer_gets_403(login, viewer, sandbox_center):
    assert login(viewer).post(connection_url(sandbox_center), **HTMX).status_code == 403
    assert not ZenotiCall.objects.exists()


def test_outsider_gets_404(login, outsider, sandbox_center):
    assert login(outsider).post(connection_url(sandbox_center), **HTMX).status_code == 404


def test_a_center_of_another_organization_is_404(login, manager, other_org, sandbox_lumen):
    theirs = Center.objects.create(
        organization=other_org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa6",
        name="Theirs",
        timezone="Europe/London",
        api_base_url=SANDBOX_URL,
        api_key=LUMEN_KEY,
    )
    url = reverse("booking-center-test", args=["lumen", theirs.code])
    assert login(manager).post(url, **HTMX).status_code == 404


@pytest.mark.parametrize("method", ["get", "put"])
def test_only_post_is_accepted(login, manager, sandbox_center, method):
    assert getattr(login(manager), method)(connection_url(sandbox_center)).status_code == 405
