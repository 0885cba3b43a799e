"""Shared fixtures: an organization with an owner, a manager and a viewer, an outsider with
an organization of their own, and an agency member whose agency manages the organization."""

import pytest
from django.core.management import call_command

from tenants.models import Agency, AgencyMembership, Center, Membership, Organization, Role, User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # The default cache is the database cache: its table is not a migration.
    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(db, settings):
    # Password hashing is deliberately slow; the suite hashes hundreds of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()


def make_user(email, name=""):
    return User.objects.create_user(email=email, password=PASSWORD, full_name=name)


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="Glow Marketing", slug="glow")


@pytest.fixture
def org(db, agency):
    return Organization.objects.create(
        name="Lumen Salon", slug="lumen", timezone="America/New_York", agency=agency
    )


@pytest.fixture
def other_org(db):
    return Organization.objects.create(name="Other Spa", slug="other-spa", timezone="Europe/London")


def _member(org, email, role, name=""):
    user = make_user(email, name)
    Membership.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def owner(org):
    return _member(org, "owner@lumen.test", Role.OWNER, "Olivia Owner")


@pytest.fixture
def manager(org):
    return _member(org, "manager@lumen.test", Role.MANAGER, "Max Manager")


@pytest.fixture
def viewer(org):
    return _member(org, "viewer@lumen.test", Role.VIEWER, "Vera Viewer")


@pytest.fixture
def outsider(other_org):
    """Owner of another organization: signed in, but nothing of `org` is theirs."""
    return _member(other_org, "owner@other.test", Role.OWNER, "Oscar Outsider")


@pytest.fixture
def agency_member(agency):
    user = make_user("ana@glow.test", "Ana Agency")
    AgencyMembership.objects.create(agency=agency, user=user)
    return user


@pytest.fixture
def center(org):
    return Center.objects.create(
        organization=org,
        zenoti_center_id="3fa85f64-5717-4562-b3fc-2c963f66afa6",
        name="Lumen Downtown",
        timezone="America/New_York",
        api_key="zk_live_1234567890abcdefWXYZ",
    )


@pytest.fixture
def login(client):
    """login(user) signs the test client in as that user and returns the client."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
