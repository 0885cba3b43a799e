"""Tenancy is a security boundary: every organization-scoped URL, generated from the URLconf,
answers 404 to a signed-in outsider, and agency members reach only their agency's clients."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenants.access import organization_access
from tenants.models import Role


def _org_routes(resolver=None, prefix=""):
    """(route template, name) for every member URL (under app/) whose pattern contains <…:org>.
    The guest funnel's public /b/<org>/… pages are for everyone: tests/booking/test_public.py."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _org_routes(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("app/<slug:org>/"):
            yield route, entry.name


ORG_ROUTES = sorted(set(_org_routes()))


def _fill(route, org_slug):
    """Turn a route template into a concrete path; other parameters get made-up values."""
    path = route.replace("<slug:org>", org_slug)
    path = re.sub(r"<int:\w+>", "1", path)
    path = re.sub(r"<(?:str|slug|code|token):\w+>", "abc123", path)
    return "/" + path


def test_the_urlconf_has_organization_routes():
    assert len(ORG_ROUTES) >= 10


@pytest.mark.parametrize("route,name", ORG_ROUTES, ids=[name for _, name in ORG_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_on_every_organization_url(login, org, outsider, route, name, method):
    client = login(outsider)
    response = getattr(client, method)(_fill(route, org.slug))
    assert response.status_code == 404


@pytest.mark.parametrize("route,name", ORG_ROUTES, ids=[name for _, name in ORG_ROUTES])
def test_unknown_organization_gets_404(login, owner, route, name):
    response = login(owner).get(_fill(route, "no-such-org"))
    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_login(client, org):
    response = client.get(reverse("tenants-dashboard", args=[org.slug]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_member_sees_dashboard(login, org, viewer):
    response = login(viewer).get(reverse("tenants-dashboard", args=[org.slug]))
    assert response.status_code == 200
    assert "Lumen Salon" in response.text


def test_agency_member_reaches_agency_client_as_manager(org, agency_member):
    access = organization_access(agency_member, org.slug)
    assert access.organization == org
    assert access.role == Role.MANAGER
    assert access.via_agency


def test_agency_member_does_not_reach_other_organizations(login, other_org, agency_member):
    assert organization_access(agency_member, other_org.slug) is None
    response = login(agency_member).get(reverse("tenants-dashboard", args=[other_org.slug]))
    assert response.status_code == 404


def test_viewer_gets_403_on_activity_log(login, org, viewer):
    response = login(viewer).get(reverse("tenants-activity", args=[org.slug]))
    assert response.status_code == 403


def test_org_picker_lists_only_own_organizations(login, org, other_org, outsider):
    response = login(outsider).get(reverse("tenants-org-picker"))
    # A single organization goes straight to its dashboard.
    assert response.status_code == 302
    assert response.url == reverse("tenants-dashboard", args=[other_org.slug])


def test_agency_member_picker_lists_agency_console_and_clients(login, org, agency, agency_member):
    response = login(agency_member).get(reverse("tenants-org-picker"))
    assert response.status_code == 200
    assert reverse("tenants-agency", args=[agency.slug]) in response.text
    assert reverse("tenants-dashboard", args=[org.slug]) in response.text


def test_an_organization_reached_twice_is_listed_once(org, agency_member):
    from tenants.access import organizations_for
    from tenants.models import Membership, Role

    Membership.objects.create(organization=org, user=agency_member, role=Role.VIEWER)
    assert list(organizations_for(agency_member)) == [org]


def test_a_suspended_organization_is_out_of_reach(login, org, owner):
    org.is_active = False
    org.save(update_fields=["is_active"])
    assert login(owner).get(reverse("tenants-dashboard", args=[org.slug])).status_code == 404


def test_agency_member_who_is_also_a_viewer_keeps_the_agency_role(org, agency_member):
    from tenants.models import Membership

    Membership.objects.create(organization=org, user=agency_member, role=Role.VIEWER)
    access = organization_access(agency_member, org.slug)
    assert access.role == Role.MANAGER and access.via_agency


def test_a_direct_owner_on_the_agency_stays_owner(org, agency_member):
    from tenants.models import Membership

    Membership.objects.create(organization=org, user=agency_member, role=Role.OWNER)
    assert organization_access(agency_member, org.slug).role == Role.OWNER


def test_organization_pages_show_times_in_the_organization_zone(login, org, owner):
    from datetime import UTC, datetime

    from tenants.models import AuditLog

    AuditLog.objects.create(
        organization=org,
        actor=owner,
        action="center.created",
        created_at=datetime(2026, 7, 1, 16, 30, tzinfo=UTC),
    )
    response = login(owner).get(reverse("tenants-activity", args=[org.slug]))
    assert "Jul 1, 12:30" in response.text  # 16:30 UTC is 12:30 in New York (EDT)
