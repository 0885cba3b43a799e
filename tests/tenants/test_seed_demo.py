"""`manage.py seed_demo` loads the demo and is safe to run twice; its centers are connected to
the Zenoti sandbox's demo salons."""

from django.core.management import call_command

from booking.models import Widget
from booking.services import check_connection
from sandbox.models import SandboxOrganization
from sandbox.testing import SandboxTransport
from tenants.models import (
    Agency,
    AgencyMembership,
    Center,
    Membership,
    Organization,
    ReferralRule,
    User,
)


def counts():
    return [
        model.objects.count()
        for model in (
            Agency,
            Organization,
            User,
            Membership,
            AgencyMembership,
            Center,
            ReferralRule,
            Widget,
        )
    ]


def test_seed_demo_runs_twice_without_duplicates(db, capsys):
    call_command("seed_demo")
    first = counts(), SandboxOrganization.objects.count()
    call_command("seed_demo")
    assert (counts(), SandboxOrganization.objects.count()) == first
    assert first == ([1, 2, 5, 4, 1, 3, 4, 1], 2)
    out = capsys.readouterr().out
    assert "owner@lumen.example" in out and "chairfill-demo" in out


def test_demo_users_can_sign_in_with_the_printed_password(db, client):
    call_command("seed_demo")
    assert client.login(username="viewer@lumen.example", password="chairfill-demo")


def test_demo_centers_point_at_the_sandbox_with_its_keys(db, settings):
    call_command("seed_demo")
    base_url = f"{settings.SITE_URL}/sandbox/zenoti/v1"
    keys = {c.name: (c.api_base_url, c.api_key) for c in Center.objects.all()}
    assert keys == {
        "Lumen SoHo": (base_url, "sandbox-lumen-key"),
        "Lumen Santa Monica": (base_url, "sandbox-lumen-key"),
        "Willow Uptown": (base_url, "sandbox-willow-key"),
    }


def test_santa_monica_takes_payment_online(db):
    call_command("seed_demo")
    paying = set(Center.objects.filter(payment_required=True).values_list("name", flat=True))
    assert paying == {"Lumen Santa Monica"}


def test_the_demo_widget_can_be_framed_by_this_site_and_its_link_is_printed(db, settings, capsys):
    settings.SITE_URL = "http://127.0.0.1:8123"
    call_command("seed_demo")
    widget = Widget.objects.get(code="lumenweb")
    assert (widget.organization.slug, widget.name, widget.mode) == (
        "lumen",
        "Website booking",
        "inline",
    )
    assert widget.enabled and not widget.centers.exists()  # every center
    assert widget.allowed_origins == ["http://127.0.0.1:8123"]
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/b/lumen/lumenweb/" in out
    assert "http://127.0.0.1:8123/sandbox/host/" in out


def test_every_demo_center_passes_test_connection(db):
    call_command("seed_demo")
    for center in Center.objects.all():
        result = check_connection(center, transport=SandboxTransport())
        assert result.ok, (center.name, result.message)
        assert result.message.startswith(f"Connected to {center.name} — ")


def test_seed_demo_refuses_to_run_in_production(db, settings):
    import pytest
    from django.core.management.base import CommandError

    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_lumen_webhooks_go_to_the_sandbox_receiver_once(db, settings):
    from attribution.models import WebhookEndpoint

    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("seed_demo")
    call_command("seed_demo")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization.slug == "lumen"
    assert endpoint.url == "http://127.0.0.1:8000/sandbox/receiver/"
    assert endpoint.wants("booking_started") and endpoint.wants("booking_completed")
