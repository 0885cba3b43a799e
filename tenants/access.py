"""Access helpers: resolve the organization (or agency) from the URL and the caller's role.

Outsiders get 404 — an organization's existence is not confirmed to them — and members
without the needed role get 403. Every tenant-owned lookup goes through `org_object`, which
puts the organization into the query itself.
"""

import zoneinfo
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from tenants.models import Agency, AgencyMembership, Membership, Organization, Role

# Agency staff act in their client organizations with this role.
AGENCY_ROLE = Role.MANAGER


@dataclass(frozen=True)
class Access:
    organization: Organization
    role: Role
    via_agency: bool = False

    def can(self, role):
        return self.role.at_least(role)


def organization_access(user, org_slug):
    """The user's access to the (active) organization with this slug, or None for outsiders.

    Someone who is both a member and on the organization's agency gets the higher role."""
    if not user.is_authenticated:
        return None
    organization = (
        Organization.objects.select_related("agency")
        .filter(Q(memberships__user=user) | Q(agency__memberships__user=user))
        .filter(slug=org_slug, is_active=True)
        .distinct()
        .first()
    )
    if organization is None:
        return None
    member_role = (
        Membership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )
    via_agency = organization.agency_id is not None and (
        AgencyMembership.objects.filter(agency_id=organization.agency_id, user=user).exists()
    )
    if member_role and not (via_agency and AGENCY_ROLE.rank > Role(member_role).rank):
        return Access(organization, Role(member_role))
    return Access(organization, AGENCY_ROLE, via_agency=True)


def org_member_required(role=Role.VIEWER):
    """View decorator for /app/<org>/…: sets request.organization and request.access.

    The view receives the Organization instead of the slug. Put it above @require_POST and
    friends, so an outsider learns nothing — not even which methods a URL accepts.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, org, *args, **kwargs):
            access = organization_access(request.user, org)
            if access is None:
                raise Http404("No such organization.")
            if not access.can(role):
                raise PermissionDenied(f"This needs the {Role(role).label.lower()} role.")
            request.organization = access.organization
            request.access = access
            # Dates and times on organization pages read in the organization's time zone.
            with timezone.override(zoneinfo.ZoneInfo(access.organization.timezone)):
                return view(request, access.organization, *args, **kwargs)

        return wrapper

    return decorator


def org_object(model, organization, **lookup):
    """Fetch a tenant-owned row with the organization inside the lookup, or 404."""
    return get_object_or_404(model, organization=organization, **lookup)


def agency_member_required(view):
    """View decorator for /agency/<agency>/…: the view receives the Agency."""

    @login_required
    @wraps(view)
    def wrapper(request, agency, *args, **kwargs):
        membership = (
            AgencyMembership.objects.select_related("agency")
            .filter(user=request.user, agency__slug=agency)
            .first()
        )
        if membership is None:
            raise Http404("No such agency.")
        return view(request, membership.agency, *args, **kwargs)

    return wrapper


def organizations_for(user):
    """Every organization the user reaches, directly or through an agency."""
    return (
        Organization.objects.filter(Q(memberships__user=user) | Q(agency__memberships__user=user))
        .distinct()
        .order_by("name")
    )


def agencies_for(user):
    return Agency.objects.filter(memberships__user=user).order_by("name")
