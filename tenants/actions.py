"""Multi-row writes of the tenants app: each runs in one transaction and leaves an audit entry."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditLog, Invitation, Membership, Organization, Role, User

SLUG_ATTEMPTS = 5


def audit(actor, action, *, organization=None, agency=None, target="", **details):
    """Record who did what. `details` must never hold secrets or guest personal data."""
    return AuditLog.objects.create(
        organization=organization,
        agency=agency,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=str(target)[:200],
        details=details,
    )


@transaction.atomic
def create_organization(actor, name, *, timezone="America/New_York", agency=None, owner=None):
    """A new tenant. `owner` (default: the actor) becomes its first owner, unless the
    organization is created by an agency for a client who has no account yet."""
    for attempt in range(SLUG_ATTEMPTS):
        try:
            # A savepoint: a concurrent sign-up may take the same slug between the check
            # in unique_slug_for and this insert; then the next free slug is tried.
            with transaction.atomic():
                organization = Organization.objects.create(
                    name=name,
                    slug=Organization.unique_slug_for(name),
                    timezone=timezone,
                    agency=agency,
                )
            break
        except IntegrityError:
            if attempt == SLUG_ATTEMPTS - 1:
                raise
    if owner is not None:
        Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    audit(actor, "organization.created", organization=organization, agency=agency, target=name)
    return organization


@transaction.atomic
def create_client_organization(actor, agency, *, name, timezone, owner_email=""):
    """An agency's new client. Agency members reach it through the agency; the salon's
    owner, when their email is given, is invited to join as owner."""
    organization = create_organization(actor, name, timezone=timezone, agency=agency)
    if owner_email:
        invite_member(actor, organization, owner_email, Role.OWNER)
    return organization


# --- Members and invitations (accounts & members area) ---------------------------------


class MemberActionError(Exception):
    """A member change that the rules forbid; the message is shown to the user as is."""


LAST_OWNER_MESSAGE = "An organization needs at least one owner. Make someone else an owner first."


@transaction.atomic
def sign_up(full_name, email, password, organization_name, timezone):
    """A new user and their first organization, which they own."""
    user = User.objects.create_user(email=email, password=password, full_name=full_name)
    organization = create_organization(user, organization_name, timezone=timezone, owner=user)
    return user, organization


@transaction.atomic
def invite_member(actor, organization, email, role):
    """Invite `email` to join with `role`, replacing any earlier unaccepted invitation of
    theirs. The email with the link goes out once the transaction commits; the token is
    never stored, only its hash, so this is the one chance to send it."""
    email = User.objects.normalize_email(email).lower()
    Invitation.objects.filter(
        organization=organization, email__iexact=email, accepted_at__isnull=True
    ).delete()
    token = Invitation.new_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=Invitation.hash_token(token),
        invited_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit(actor, "member.invited", organization=organization, target=email, role=str(role))
    # robust: a mail server hiccup must not turn a saved invitation into an error page.
    transaction.on_commit(lambda: send_invitation_email(invitation, token), robust=True)
    return invitation


def send_invitation_email(invitation, token):
    link = settings.SITE_URL + reverse("tenants-invitation-accept", args=[invitation.code, token])
    ctx = {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter": invitation.invited_by,
        "role": Role(invitation.role).label,
        "link": link,
        "site_url": settings.SITE_URL,
    }
    subject = "".join(render_to_string("tenants/email/invitation_subject.txt", ctx).splitlines())
    message = EmailMultiAlternatives(
        subject, render_to_string("tenants/email/invitation.txt", ctx), to=[invitation.email]
    )
    message.attach_alternative(render_to_string("tenants/email/invitation.html", ctx), "text/html")
    message.send()


@transaction.atomic
def accept_invitation(invitation, user):
    """Join the organization through the invitation, exactly once.

    The conditional UPDATE claims the invitation: of two concurrent accepts only one sees
    a row count of 1. A user who is already a member keeps their existing role."""
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now, accepted_by=user)
    if claimed != 1:
        raise MemberActionError("This invitation has already been used or has expired.")
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    audit(
        user,
        "member.joined" if created else "invitation.accepted",
        organization=invitation.organization,
        target=user.email,
        role=membership.role,
    )
    return membership


@transaction.atomic
def sign_up_and_accept(invitation, full_name, password):
    """A new account for the invited address, joining the organization in one go."""
    user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name)
    accept_invitation(invitation, user)
    return user


def _lock_owners(organization):
    """Lock the organization's owner memberships for the rest of the transaction, so two
    concurrent demotions or removals cannot each see "another owner is left"."""
    return list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.OWNER)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def change_member_role(actor, membership, role):
    organization = membership.organization
    owner_ids = _lock_owners(organization)
    membership = Membership.objects.select_for_update().get(
        pk=membership.pk, organization=organization
    )
    old_role = membership.role
    if old_role == role:
        return membership
    if old_role == Role.OWNER and owner_ids == [membership.pk]:
        raise MemberActionError(LAST_OWNER_MESSAGE)
    membership.role = role
    membership.save(update_fields=["role"])
    audit(
        actor,
        "member.role_changed",
        organization=organization,
        target=membership.user.email,
        old_role=old_role,
        new_role=str(role),
    )
    return membership


@transaction.atomic
def remove_member(actor, membership):
    """Remove a member (or, when the actor is that member, leave the organization)."""
    organization = membership.organization
    owner_ids = _lock_owners(organization)
    membership = Membership.objects.select_for_update().get(
        pk=membership.pk, organization=organization
    )
    if membership.role == Role.OWNER and owner_ids == [membership.pk]:
        if membership.user_id == actor.pk:
            raise MemberActionError(
                "You are the only owner. Make someone else an owner before you leave."
            )
        raise MemberActionError(LAST_OWNER_MESSAGE)
    leaving = membership.user_id == actor.pk
    membership.delete()
    audit(
        actor,
        "member.left" if leaving else "member.removed",
        organization=organization,
        target=membership.user.email,
        role=membership.role,
    )


@transaction.atomic
def revoke_invitation(actor, invitation):
    invitation.delete()
    audit(
        actor, "invitation.revoked", organization=invitation.organization, target=invitation.email
    )


# --- Zenoti centers. The API key never goes into an audit entry. ---


@transaction.atomic
def create_center(actor, organization, *, api_key, **fields):
    center = organization.centers.create(api_key=api_key, **fields)
    audit(
        actor,
        "center.created",
        organization=organization,
        target=center.name,
        zenoti_center_id=center.zenoti_center_id,
    )
    return center


@transaction.atomic
def update_center(actor, center, *, api_key="", **fields):
    """Change a center's settings; a non-empty `api_key` replaces the stored key."""
    changed = [name for name, value in fields.items() if getattr(center, name) != value]
    for name in changed:
        setattr(center, name, fields[name])
    update_fields = list(changed)
    if api_key:
        center.api_key = api_key
        update_fields.append("api_key")
    if not update_fields:
        return center
    center.save(update_fields=[*update_fields, "updated_at"])
    if changed:
        audit(
            actor,
            "center.updated",
            organization=center.organization,
            target=center.name,
            changed=changed,
        )
    if api_key:
        audit(
            actor,
            "center.key_replaced",
            organization=center.organization,
            target=center.name,
            key_expires_on=str(center.api_key_expires_on or ""),
        )
    return center


@transaction.atomic
def set_center_enabled(actor, center, enabled):
    if center.enabled == enabled:
        return center
    center.enabled = enabled
    center.save(update_fields=["enabled", "updated_at"])
    audit(
        actor,
        "center.enabled" if enabled else "center.disabled",
        organization=center.organization,
        target=center.name,
    )
    return center


# --- Organization settings and referral-source rules. ---


@transaction.atomic
def update_organization_settings(actor, organization, action, **fields):
    """Save changed settings fields of the organization (branding or referral defaults) and
    audit them as `action` with old → new values. Returns the names of the changed fields."""
    changed = {
        name: [getattr(organization, name), value]
        for name, value in fields.items()
        if getattr(organization, name) != value
    }
    if not changed:
        return []
    for name, (_old, value) in changed.items():
        setattr(organization, name, value)
    organization.save(update_fields=list(changed))
    audit(actor, action, organization=organization, target=organization.name, changed=changed)
    return list(changed)


def _locked_rules(organization):
    """The organization's referral rules in order, locked for the rest of the transaction.

    Locking the organization row first serializes concurrent adds, moves and deletes, which
    would otherwise hand out the same position twice."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    return list(organization.referral_rules.select_for_update().order_by("position", "id"))


def _renumber_rules(rules):
    """Write positions 0..n-1 in the given order (only for rows whose position changed)."""
    for position, rule in enumerate(rules):
        if rule.position != position:
            rule.position = position
            rule.save(update_fields=["position"])


@transaction.atomic
def add_referral_rule(actor, organization, **fields):
    """Append a rule after the organization's last one."""
    rules = _locked_rules(organization)
    _renumber_rules(rules)
    rule = organization.referral_rules.create(position=len(rules), **fields)
    audit(
        actor,
        "referral_rule.added",
        organization=organization,
        target=str(rule),
        field=rule.field,
        operator=rule.operator,
        value=rule.value,
        referral_source_id=rule.referral_source_id,
    )
    return rule


@transaction.atomic
def delete_referral_rule(actor, organization, rule):
    rules = [r for r in _locked_rules(organization) if r.pk != rule.pk]
    organization.referral_rules.filter(pk=rule.pk).delete()
    _renumber_rules(rules)
    audit(
        actor,
        "referral_rule.deleted",
        organization=organization,
        target=str(rule),
        referral_source_id=rule.referral_source_id,
    )


@transaction.atomic
def move_referral_rule(actor, organization, rule, direction):
    """Swap the rule with its neighbour above ("up") or below ("down"). Returns False when
    it is already first or last (nothing changes)."""
    rules = _locked_rules(organization)
    index = next((i for i, r in enumerate(rules) if r.pk == rule.pk), None)
    if index is None:
        return False
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return False
    rules[index], rules[other] = rules[other], rules[index]
    _renumber_rules(rules)
    audit(
        actor,
        "referral_rule.moved",
        organization=organization,
        target=str(rule),
        direction=direction,
        position=other + 1,
    )
    return True
