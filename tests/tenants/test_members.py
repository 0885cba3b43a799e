"""The members page (invite, change role, remove, leave, revoke) and accepting invitations."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tenants import actions
from tenants.models import AuditLog, Invitation, Membership, Role, User
from tests.conftest import PASSWORD, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def member_code(user):
    """The code of the user's (first) membership, as used in member URLs."""
    return Membership.objects.filter(user=user).order_by("pk").first().code


def _url(name, org, *args):
    return reverse(name, args=[org.slug, *args])


def _invitation(org, email="new@lumen.test", role=Role.MANAGER, invited_by=None, **fields):
    """An invitation and the token of its link."""
    token = Invitation.new_token()
    invitation = Invitation.objects.create(
        organization=org,
        email=email,
        role=role,
        token_hash=Invitation.hash_token(token),
        invited_by=invited_by,
        **fields,
    )
    return invitation, token


def _accept_url(invitation, token):
    return reverse("tenants-invitation-accept", args=[invitation.code, token])


# --- The members page ----------------------------------------------------------------


def test_every_member_sees_the_team_but_only_owners_see_the_controls(
    login, org, owner, manager, viewer
):
    _invitation(org, "pending@lumen.test")
    response = login(viewer).get(_url("tenants-members", org))
    assert response.status_code == 200
    for person in (owner, manager, viewer):
        assert person.email in response.text
    assert "pending@lumen.test" in response.text
    assert _url("tenants-member-invite", org) not in response.text
    assert _url("tenants-member-role", org, member_code(manager)) not in response.text
    # The viewer can still leave.
    assert _url("tenants-member-remove", org, member_code(viewer)) in response.text
    assert _url("tenants-member-remove", org, member_code(manager)) not in response.text

    response = login(owner).get(_url("tenants-members", org))
    assert _url("tenants-member-invite", org) in response.text
    assert _url("tenants-member-role", org, member_code(manager)) in response.text
    assert _url("tenants-member-remove", org, member_code(manager)) in response.text


def test_expired_invitations_are_listed_as_expired(login, org, owner):
    _invitation(org, "late@lumen.test", expires_at=timezone.now() - timedelta(days=1))
    response = login(owner).get(_url("tenants-members", org))
    assert "late@lumen.test" in response.text
    assert "Expired" in response.text
    assert "Send again" in response.text


# --- Inviting ------------------------------------------------------------------------


def test_owner_invites_someone_and_the_email_carries_a_working_link(
    login, org, owner, client, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(owner).post(
            _url("tenants-member-invite", org), {"email": "Nina@Example.test", "role": "manager"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(organization=org)
    assert invitation.email == "nina@example.test"
    assert invitation.role == Role.MANAGER
    assert invitation.invited_by == owner
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.test"]
    assert "Lumen Salon" in message.subject
    assert message.alternatives[0].mimetype == "text/html"
    link = re.search(r"https?://\S+/accounts/invitations/\S+/", message.body).group(0)
    assert link.startswith(settings.SITE_URL)
    # Only the hash of the token is stored.
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == Invitation.hash_token(token) != token
    assert AuditLog.objects.filter(
        organization=org, action="member.invited", target="nina@example.test"
    ).exists()

    client.logout()
    page = client.get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert "Join Lumen Salon" in page.text


def test_invite_by_htmx_returns_the_invitations_panel(
    login, org, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(owner).post(
            _url("tenants-member-invite", org),
            {"email": "nina@example.test", "role": "viewer"},
            **HTMX,
        )
    assert response.status_code == 200
    assert 'id="invitations"' in response.text
    assert "<html" not in response.text
    assert "Invitation sent to nina@example.test." in response.text
    assert len(mail.outbox) == 1


def test_inviting_an_existing_member_is_a_field_error(login, org, owner, manager):
    response = login(owner).post(
        _url("tenants-member-invite", org), {"email": "MANAGER@lumen.test", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "already a member" in str(response.context["invite_form"].errors["email"])
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "a@b.test", "role": "emperor"}, "role"),
        ({}, "email"),
    ],
)
def test_bad_invitation_input_is_a_field_error(login, org, owner, data, field):
    response = login(owner).post(_url("tenants-member-invite", org), data)
    assert response.status_code == 400
    assert response.context["invite_form"].errors[field]
    assert not Invitation.objects.exists()


def test_inviting_again_replaces_the_pending_invitation(
    login, org, owner, django_capture_on_commit_callbacks
):
    old, old_token = _invitation(org, "nina@example.test", role=Role.VIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        login(owner).post(
            _url("tenants-member-invite", org), {"email": "nina@example.test", "role": "manager"}
        )
    invitations = Invitation.objects.filter(organization=org)
    assert invitations.count() == 1
    assert invitations.get().role == Role.MANAGER
    assert not Invitation.objects.filter(pk=old.pk).exists()


# --- Accepting -----------------------------------------------------------------------


def test_new_person_creates_an_account_from_the_invitation_and_joins(client, org, owner):
    invitation, token = _invitation(org, "nina@example.test", invited_by=owner)
    page = client.get(_accept_url(invitation, token))
    assert "Olivia Owner" in page.text
    assert "nina@example.test" in page.text
    response = client.post(
        _accept_url(invitation, token),
        {"full_name": "Nina New", "password": "quiet-orchid-lake-31"},
    )
    assert response.url == reverse("tenants-dashboard", args=[org.slug])
    user = User.objects.get(email="nina@example.test")
    assert Membership.objects.get(organization=org, user=user).role == Role.MANAGER
    assert int(client.session[SESSION_KEY]) == user.pk
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.accepted_by == user
    assert AuditLog.objects.filter(organization=org, action="member.joined").exists()


def test_weak_password_on_the_invitation_form_creates_no_account(client, org):
    invitation, token = _invitation(org, "nina@example.test")
    response = client.post(
        _accept_url(invitation, token), {"full_name": "Nina", "password": "12345678"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="nina@example.test").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_signed_in_invitee_accepts_with_one_click(login, org):
    nina = make_user("nina@example.test", "Nina")
    invitation, token = _invitation(org, "NINA@example.test", role=Role.VIEWER)
    client = login(nina)
    assert "Accept and join Lumen Salon" in client.get(_accept_url(invitation, token)).text
    response = client.post(_accept_url(invitation, token))
    assert response.url == reverse("tenants-dashboard", args=[org.slug])
    assert Membership.objects.get(organization=org, user=nina).role == Role.VIEWER


def test_anonymous_invitee_with_an_account_is_asked_to_sign_in_first(client, org):
    make_user("nina@example.test")
    invitation, token = _invitation(org, "nina@example.test")
    url = _accept_url(invitation, token)
    page = client.get(url)
    assert "Sign in to accept" in page.text
    assert page.context["login_url"] == reverse("login") + "?next=" + url.replace("/", "%2F")
    # Posting the sign-up form anyway creates nothing.
    client.post(url, {"full_name": "Imposter", "password": "quiet-orchid-lake-31"})
    assert not Membership.objects.filter(organization=org).exists()
    # Signing in with ?next= comes back to the invitation.
    response = client.post(
        reverse("login"), {"email": "nina@example.test", "password": PASSWORD, "next": url}
    )
    assert response.url == url


def test_someone_signed_in_with_another_email_is_offered_to_sign_out(login, org, viewer):
    invitation, token = _invitation(org, "nina@example.test")
    client = login(viewer)
    page = client.get(_accept_url(invitation, token))
    assert "but you are signed in as" in page.text
    assert reverse("logout") in page.text
    client.post(_accept_url(invitation, token))
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_an_existing_member_accepting_keeps_their_role(login, org, manager):
    invitation, token = _invitation(org, manager.email, role=Role.VIEWER)
    response = login(manager).post(_accept_url(invitation, token))
    assert response.status_code == 302
    assert Membership.objects.get(organization=org, user=manager).role == Role.MANAGER
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_an_expired_invitation_is_refused_kindly(client, org):
    invitation, token = _invitation(org, expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(_accept_url(invitation, token))
    assert response.status_code == 410
    assert "This invitation has expired" in response.text
    response = client.post(
        _accept_url(invitation, token), {"full_name": "Nina", "password": "quiet-orchid-lake-31"}
    )
    assert response.status_code == 410
    assert not User.objects.filter(email=invitation.email).exists()


def test_a_used_invitation_cannot_be_used_again(client, org, viewer):
    invitation, token = _invitation(org, "nina@example.test")
    client.post(
        _accept_url(invitation, token), {"full_name": "Nina", "password": "quiet-orchid-lake-31"}
    )
    client.logout()
    response = client.get(_accept_url(invitation, token))
    assert response.status_code == 410
    assert "already used" in response.text
    client.force_login(viewer)
    assert client.post(_accept_url(invitation, token)).status_code == 410


def test_accepting_is_single_use_even_when_two_requests_race(org):
    invitation, _ = _invitation(org, "nina@example.test")
    nina = make_user("nina@example.test")
    stale_copy = Invitation.objects.get(pk=invitation.pk)
    actions.accept_invitation(invitation, nina)
    with pytest.raises(actions.MemberActionError):
        actions.accept_invitation(stale_copy, nina)
    assert Membership.objects.filter(organization=org, user=nina).count() == 1


def test_wrong_token_or_unknown_code_is_404(client, org):
    invitation, token = _invitation(org)
    assert client.get(_accept_url(invitation, "x" + token[1:])).status_code == 404
    assert client.get(_accept_url(invitation, "short")).status_code == 404
    assert client.get(reverse("tenants-invitation-accept", args=["nope", token])).status_code == 404


# --- Roles -------------------------------------------------------------------------


def test_owner_changes_a_members_role(login, org, owner, manager):
    response = login(owner).post(
        _url("tenants-member-role", org, member_code(manager)), {"role": "viewer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(organization=org, user=manager).role == Role.VIEWER
    entry = AuditLog.objects.get(organization=org, action="member.role_changed")
    assert entry.details == {"old_role": "manager", "new_role": "viewer"}
    assert entry.target == manager.email


def test_role_change_by_htmx_returns_the_row(login, org, owner, manager):
    response = login(owner).post(
        _url("tenants-member-role", org, member_code(manager)), {"role": "owner"}, **HTMX
    )
    assert response.status_code == 200
    assert f'id="member-{manager.pk}"' in response.text
    assert "is now owner" in response.text
    assert Membership.objects.get(organization=org, user=manager).role == Role.OWNER


def test_a_bad_role_changes_nothing(login, org, owner, manager):
    response = login(owner).post(
        _url("tenants-member-role", org, member_code(manager)), {"role": "god"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(organization=org, user=manager).role == Role.MANAGER


def test_the_last_owner_cannot_be_demoted(login, org, owner, manager):
    client = login(owner)
    response = client.post(
        _url("tenants-member-role", org, member_code(owner)), {"role": "manager"}, follow=True
    )
    assert "needs at least one owner" in response.text
    assert Membership.objects.get(organization=org, user=owner).role == Role.OWNER
    response = client.post(
        _url("tenants-member-role", org, member_code(owner)), {"role": "viewer"}, **HTMX
    )
    assert "needs at least one owner" in response.text
    assert Membership.objects.get(organization=org, user=owner).role == Role.OWNER


def test_an_owner_can_step_down_when_another_owner_remains(login, org, owner, manager):
    Membership.objects.filter(user=manager).update(role=Role.OWNER)
    response = login(owner).post(
        _url("tenants-member-role", org, member_code(owner)), {"role": "manager"}, **HTMX
    )
    assert response.headers["HX-Redirect"] == _url("tenants-members", org)
    assert Membership.objects.get(organization=org, user=owner).role == Role.MANAGER
    # …and then the other owner is the last one.
    with pytest.raises(actions.MemberActionError):
        actions.change_member_role(
            manager, Membership.objects.get(organization=org, user=manager), Role.VIEWER
        )


# --- Removing and leaving -------------------------------------------------------------


def test_owner_removes_a_member(login, org, owner, viewer):
    response = login(owner).post(_url("tenants-member-remove", org, member_code(viewer)))
    assert response.status_code == 302
    assert not Membership.objects.filter(organization=org, user=viewer).exists()
    assert User.objects.filter(pk=viewer.pk).exists()
    assert AuditLog.objects.filter(
        organization=org, action="member.removed", target=viewer.email
    ).exists()


def test_removal_by_htmx_returns_the_team_table(login, org, owner, viewer):
    response = login(owner).post(_url("tenants-member-remove", org, member_code(viewer)), **HTMX)
    assert response.status_code == 200
    assert 'id="members"' in response.text
    assert viewer.email not in response.text


def test_the_last_owner_cannot_be_removed_or_leave(login, org, owner, manager):
    client = login(owner)
    response = client.post(_url("tenants-member-remove", org, member_code(owner)), follow=True)
    assert "only owner" in response.text
    assert Membership.objects.filter(organization=org, user=owner, role=Role.OWNER).exists()
    response = client.post(_url("tenants-member-remove", org, member_code(owner)), **HTMX)
    assert "only owner" in response.text


def test_removing_the_last_owner_is_refused_in_the_action_too(org, owner, manager):
    membership = Membership.objects.get(organization=org, user=owner)
    with pytest.raises(actions.MemberActionError):
        actions.remove_member(manager, membership)


def test_a_member_can_leave(login, org, owner, viewer):
    response = login(viewer).post(_url("tenants-member-remove", org, member_code(viewer)))
    assert response.url == reverse("tenants-org-picker")
    assert not Membership.objects.filter(organization=org, user=viewer).exists()
    assert AuditLog.objects.filter(organization=org, action="member.left").exists()


# --- Revoking ------------------------------------------------------------------------


def test_owner_revokes_an_invitation_and_its_link_stops_working(login, org, owner, client):
    invitation, token = _invitation(org, "nina@example.test")
    response = login(owner).post(_url("tenants-invitation-revoke", org, invitation.code), **HTMX)
    assert response.status_code == 200
    assert "nina@example.test no longer works" in response.text
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert AuditLog.objects.filter(organization=org, action="invitation.revoked").exists()
    client.logout()
    assert client.get(_accept_url(invitation, token)).status_code == 404


# --- Permissions ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "viewer", "agency_member"])
def test_non_owners_get_403_on_member_management(request, login, org, owner, who):
    client = login(request.getfixturevalue(who))
    invitation, _ = _invitation(org)
    attempts = [
        (_url("tenants-member-invite", org), {"email": "x@example.test", "role": "owner"}),
        (_url("tenants-member-role", org, member_code(owner)), {"role": "viewer"}),
        (_url("tenants-member-remove", org, member_code(owner)), {}),
        (_url("tenants-invitation-revoke", org, invitation.code), {}),
    ]
    for url, data in attempts:
        assert client.post(url, data).status_code == 403, url
    assert Membership.objects.get(organization=org, user=owner).role == Role.OWNER
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_owner_cannot_touch_a_member_or_invitation_of_another_organization(
    login, org, owner, other_org, outsider
):
    client = login(owner)
    assert client.post(_url("tenants-member-remove", org, member_code(outsider))).status_code == 404
    assert (
        client.post(
            _url("tenants-member-role", org, member_code(outsider)), {"role": "viewer"}
        ).status_code
        == 404
    )
    foreign, _ = _invitation(other_org, "z@example.test")
    assert client.post(_url("tenants-invitation-revoke", org, foreign.code)).status_code == 404
    assert Membership.objects.filter(organization=other_org, user=outsider).exists()
    assert Invitation.objects.filter(pk=foreign.pk).exists()


def test_member_pages_need_a_login(client, org):
    response = client.get(_url("tenants-members", org))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_only_owner_is_not_offered_to_leave(login, org, owner, viewer):
    response = login(owner).get(reverse("tenants-members", args=[org.slug]))
    assert "Only owner" in response.text
    assert ">Leave<" not in response.text
