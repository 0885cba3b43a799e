"""The agency console: an agency's members see its client organizations and create new ones;
nobody else reaches it."""

from django.core import mail
from django.urls import reverse

from tenants.models import AuditLog, Invitation, Membership, Organization


def test_agency_member_sees_clients_with_their_status(login, agency, org, center, agency_member):
    response = login(agency_member).get(reverse("tenants-agency", args=[agency.slug]))
    assert response.status_code == 200
    assert org.name in response.text
    assert "Owner not signed up" in response.text  # a center, but no owner yet


def test_client_without_center_needs_attention(login, agency, org, owner, agency_member):
    response = login(agency_member).get(reverse("tenants-agency", args=[agency.slug]))
    assert "No center connected" in response.text


def test_organization_of_another_agency_is_not_listed(login, agency, other_org, agency_member):
    response = login(agency_member).get(reverse("tenants-agency", args=[agency.slug]))
    assert other_org.name not in response.text


def test_outsider_gets_404_on_the_console(login, agency, outsider):
    client = login(outsider)
    assert client.get(reverse("tenants-agency", args=[agency.slug])).status_code == 404
    create = reverse("tenants-agency-org-create", args=[agency.slug])
    assert client.post(create, {"name": "Sneaky", "timezone": "UTC"}).status_code == 404
    assert not Organization.objects.filter(name="Sneaky").exists()


def test_organization_member_is_not_an_agency_member(login, agency, org, owner):
    response = login(owner).get(reverse("tenants-agency", args=[agency.slug]))
    assert response.status_code == 404


def test_unknown_agency_gets_404(login, agency_member):
    assert login(agency_member).get("/agency/nope/").status_code == 404


def test_agency_member_creates_a_client_and_invites_its_owner(
    login, agency, agency_member, django_capture_on_commit_callbacks
):
    client = login(agency_member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants-agency-org-create", args=[agency.slug]),
            {"name": "Bloom Nails", "timezone": "Europe/London", "owner_email": "Sam@Bloom.test"},
        )
    organization = Organization.objects.get(name="Bloom Nails")
    assert response.status_code == 302
    assert response.url == reverse("tenants-dashboard", args=[organization.slug])
    assert organization.agency == agency
    assert organization.timezone == "Europe/London"
    # The agency member reaches it through the agency, not through a membership of their own.
    assert not Membership.objects.filter(organization=organization).exists()
    invitation = Invitation.objects.get(organization=organization)
    assert invitation.email == "sam@bloom.test"
    assert invitation.role == "owner"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["sam@bloom.test"]
    assert AuditLog.objects.filter(
        organization=organization, action="organization.created"
    ).exists()
    assert client.get(response.url).status_code == 200


def test_client_can_be_created_without_an_owner_email(login, agency, agency_member):
    response = login(agency_member).post(
        reverse("tenants-agency-org-create", args=[agency.slug]),
        {"name": "Solo Studio", "timezone": "America/Chicago", "owner_email": ""},
    )
    assert response.status_code == 302
    assert not Invitation.objects.exists()


def test_bad_input_shows_field_errors_and_creates_nothing(login, agency, agency_member):
    response = login(agency_member).post(
        reverse("tenants-agency-org-create", args=[agency.slug]),
        {"name": "  ", "timezone": "Mars/Olympus", "owner_email": "not-an-email"},
    )
    assert response.status_code == 400
    assert "Choose a time zone from the list." in response.text
    assert "Enter a valid email address." in response.text
    assert Organization.objects.filter(agency=agency).count() == 0


def test_a_slug_taken_by_a_concurrent_sign_up_moves_on_to_the_next(db, agency, monkeypatch):
    from tenants import actions

    Organization.objects.create(name="Bloom Nails", slug="bloom-nails")
    slugs = iter(["bloom-nails", "bloom-nails-2"])  # the first check raced with another insert
    monkeypatch.setattr(Organization, "unique_slug_for", classmethod(lambda cls, name: next(slugs)))
    organization = actions.create_organization(None, "Bloom Nails", agency=agency)
    assert organization.slug == "bloom-nails-2"
