"""An organization's members and invitations: every member sees the team; owners invite,
change roles and remove people; anyone may leave (unless they are the last owner).
Also the public page where an invitation link is accepted."""

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from tenants import actions
from tenants.access import org_member_required, org_object
from tenants.forms.members import ROLE_HELP, AcceptSignupForm, InviteForm, RoleForm
from tenants.models import Invitation, Membership, Role, User

PAGE = "tenants/members/list.html"


def _memberships(organization):
    rows = Membership.objects.filter(organization=organization).select_related("user")
    return sorted(
        rows, key=lambda m: (-Role(m.role).rank, (m.user.full_name or m.user.email).lower())
    )


def _ctx(request, organization, invite_form=None, **extra):
    can_manage = request.access.can(Role.OWNER)
    owner_ids = list(
        Membership.objects.filter(organization=organization, role=Role.OWNER).values_list(
            "user_id", flat=True
        )[:2]
    )
    ctx = {
        # The only owner cannot leave (the action refuses too); no point offering it.
        "sole_owner_id": owner_ids[0] if len(owner_ids) == 1 else None,
        "nav": "members",
        "can_manage": can_manage,
        "memberships": _memberships(organization),
        "invitations": Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True
        ).select_related("invited_by"),
        "invite_form": invite_form
        or (InviteForm(organization=organization) if can_manage else None),
        "roles": [(role, ROLE_HELP[role]) for role in Role],
        **extra,
    }
    return ctx


def _redirect_to_list(request, organization):
    url = reverse("tenants-members", args=[organization.slug])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# The access check goes outside the method check: outsiders get 404 whatever the method.
@org_member_required()
@require_GET
def member_list(request, organization):
    return render(request, PAGE, _ctx(request, organization))


@org_member_required(Role.OWNER)
@require_POST
def invite(request, organization):
    form = InviteForm(request.POST, organization=organization)
    if not form.is_valid():
        if request.htmx:
            # htmx swaps only 2xx answers; the form comes back with its errors.
            return render(request, PAGE + "#invitations", _ctx(request, organization, form))
        return render(request, PAGE, _ctx(request, organization, form), status=400)
    invitation = actions.invite_member(
        request.user, organization, form.cleaned_data["email"], form.cleaned_data["role"]
    )
    notice = f"Invitation sent to {invitation.email}."
    if request.htmx:
        return render(request, PAGE + "#invitations", _ctx(request, organization, notice=notice))
    messages.success(request, notice)
    return redirect("tenants-members", organization.slug)


@org_member_required(Role.OWNER)
@require_POST
def change_role(request, organization, code):
    membership = org_object(Membership.objects.select_related("user"), organization, code=code)
    form = RoleForm(request.POST)
    error = notice = ""
    if not form.is_valid():
        error = form.errors["role"][0]
    else:
        try:
            membership = actions.change_member_role(
                request.user, membership, form.cleaned_data["role"]
            )
        except actions.MemberActionError as exc:
            error = str(exc)
        else:
            notice = (
                f"{membership.user.get_full_name()} is now {Role(membership.role).label.lower()}."
            )
            if membership.user_id == request.user.pk:
                # They demoted themselves: the controls on the page are no longer theirs.
                messages.success(request, notice)
                return _redirect_to_list(request, organization)
    if request.htmx:
        membership.refresh_from_db(fields=["role"])
        ctx = _ctx(request, organization, m=membership, row_error=error, row_notice=notice)
        return render(request, PAGE + "#member-row", ctx)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("tenants-members", organization.slug)


@org_member_required()
@require_POST
def remove(request, organization, code):
    membership = org_object(Membership.objects.select_related("user"), organization, code=code)
    leaving = membership.user_id == request.user.pk
    if not leaving and not request.access.can(Role.OWNER):
        raise PermissionDenied("Only owners can remove other members.")
    try:
        actions.remove_member(request.user, membership)
    except actions.MemberActionError as exc:
        if request.htmx:
            ctx = _ctx(request, organization, members_error=str(exc))
            return render(request, PAGE + "#members", ctx)
        messages.error(request, str(exc))
        return redirect("tenants-members", organization.slug)
    if leaving:
        messages.success(request, f"You left {organization.name}.")
        url = reverse("tenants-org-picker")
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    notice = f"{membership.user.get_full_name()} no longer has access to {organization.name}."
    if request.htmx:
        return render(
            request, PAGE + "#members", _ctx(request, organization, members_notice=notice)
        )
    messages.success(request, notice)
    return redirect("tenants-members", organization.slug)


@org_member_required(Role.OWNER)
@require_POST
def revoke_invitation(request, organization, code):
    invitation = org_object(Invitation, organization, code=code, accepted_at__isnull=True)
    actions.revoke_invitation(request.user, invitation)
    notice = f"The invitation for {invitation.email} no longer works."
    if request.htmx:
        return render(request, PAGE + "#invitations", _ctx(request, organization, notice=notice))
    messages.success(request, notice)
    return redirect("tenants-members", organization.slug)


# --- Accepting an invitation (public: the link in the email) ---------------------------

ACCEPT_PAGE = "tenants/members/accept.html"
GONE_PAGE = "tenants/members/invitation_gone.html"


def _invitation_for_link(code, token):
    """The invitation the link names, or 404 — also when the token is wrong, compared in
    constant time so response timing does not reveal how much of a guess was right."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by").filter(code=code).first()
    )
    if invitation is None or not secrets.compare_digest(
        invitation.token_hash, Invitation.hash_token(token)
    ):
        raise Http404("No such invitation.")
    return invitation


def _gone(request, invitation):
    reason = "used" if invitation.accepted_at else "expired"
    return render(request, GONE_PAGE, {"invitation": invitation, "reason": reason}, status=410)


def _joined(request, invitation):
    messages.success(request, f"Welcome to {invitation.organization.name}!")
    return redirect("tenants-dashboard", invitation.organization.slug)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password")
def accept_invitation(request, code, token):
    invitation = _invitation_for_link(code, token)
    user = request.user
    # Someone clicking their own, already used link is simply taken to the organization.
    already_joined = (
        invitation.accepted_at
        and user.is_authenticated
        and user.pk == invitation.accepted_by_id
        and Membership.objects.filter(organization=invitation.organization, user=user).exists()
    )
    if already_joined:
        return redirect("tenants-dashboard", invitation.organization.slug)
    if not invitation.is_pending:
        return _gone(request, invitation)

    ctx = {"invitation": invitation, "role": Role(invitation.role)}
    if user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            return render(request, ACCEPT_PAGE, {**ctx, "state": "other_user"})
        if request.method == "POST":
            try:
                actions.accept_invitation(invitation, user)
            except actions.MemberActionError:
                invitation.refresh_from_db()
                return _gone(request, invitation)
            return _joined(request, invitation)
        return render(request, ACCEPT_PAGE, {**ctx, "state": "confirm"})

    login_url = reverse("login") + "?" + urlencode({"next": request.path})
    ctx.update(state="anonymous", login_url=login_url)
    if User.objects.filter(email__iexact=invitation.email).exists():
        return render(request, ACCEPT_PAGE, {**ctx, "account_exists": True})
    form = AcceptSignupForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if form.is_bound and form.is_valid():
        try:
            new_user = actions.sign_up_and_accept(
                invitation, form.cleaned_data["full_name"], form.cleaned_data["password"]
            )
        except IntegrityError:
            # The address got an account in the meantime: signing in is the way now.
            return render(request, ACCEPT_PAGE, {**ctx, "account_exists": True})
        except actions.MemberActionError:
            invitation.refresh_from_db()
            return _gone(request, invitation)
        auth_login(request, new_user)
        return _joined(request, invitation)
    status = 400 if form.is_bound else 200
    return render(request, ACCEPT_PAGE, {**ctx, "form": form}, status=status)
