"""Fixtures of the booking tests: a center connected to the in-process Zenoti sandbox, and a
helper writing call-log rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from booking.models import ZenotiCall
from tenants.models import Center

SANDBOX_URL = "http://testserver/sandbox/zenoti/v1"
SOHO_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01"
SANTA_MONICA_ID = "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02"
WILLOW_ID = "7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01"
LUMEN_KEY = "sandbox-lumen-key"


@pytest.fixture
def sandbox_lumen(db):
    """The sandbox's demo salons; returns the "lumen" sandbox organization."""
    from sandbox.demo import load_demo
    from sandbox.models import SandboxOrganization

    load_demo()
    return SandboxOrganization.objects.get(slug="lumen")


@pytest.fixture
def in_process_zenoti(settings):
    """Every client made by booking.services reaches the sandbox without sockets."""
    settings.ZENOTI_TRANSPORT = "sandbox.testing.SandboxTransport"


@pytest.fixture
def sandbox_center(org, sandbox_lumen, in_process_zenoti):
    return Center.objects.create(
        organization=org,
        zenoti_center_id=SOHO_ID,
        name="SoHo",
        timezone="America/New_York",
        api_base_url=SANDBOX_URL,
        api_key=LUMEN_KEY,
    )


def log_call(organization, center=None, *, ago=timedelta(minutes=5), **fields):
    """A call-log row `ago` before now (defaults: a successful GET of the services)."""
    values = {
        "method": "GET",
        "path_template": "/centers/{center_id}/services",
        "status": 200,
        "latency_ms": 100.0,
        "outcome": "ok",
        "ratelimit_remaining": 50,
    }
    values.update(fields)
    return ZenotiCall.objects.create(
        organization=organization, center=center, created_at=timezone.now() - ago, **values
    )
