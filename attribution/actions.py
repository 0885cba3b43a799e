"""Changes members make to webhook endpoints: each runs in one transaction and leaves an audit
entry. Secrets never reach the audit log."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from attribution.models import WebhookEndpoint, webhook_secret
from tenants.actions import audit

# After a rotation the old secret keeps signing (a second signature) for this long, so a
# receiver can switch to the new one without missing a delivery.
ROTATION_OVERLAP = timedelta(hours=24)


def _audit(actor, action, endpoint, **details):
    audit(
        actor,
        action,
        organization=endpoint.organization,
        target=endpoint.url,
        code=endpoint.code,
        **details,
    )


@transaction.atomic
def create_endpoint(organization, actor, data):
    """A new endpoint with a fresh signing secret; `data` holds url, description,
    event_types and enabled."""
    endpoint = WebhookEndpoint.objects.create(organization=organization, **data)
    _audit(actor, "webhook.created", endpoint, event_types=endpoint.event_types)
    return endpoint


@transaction.atomic
def update_endpoint(endpoint, actor, data):
    """Save the changed fields; returns the names of those that changed."""
    data = dict(data)
    enabled = data.pop("enabled", endpoint.enabled)
    fields = [name for name, value in data.items() if getattr(endpoint, name) != value]
    for name in fields:
        setattr(endpoint, name, data[name])
    if "url" in fields:
        # Failures of the old address say nothing about the new one.
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        fields += ["consecutive_failures", "failing_since"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
    changed = [name for name in fields if name in data]
    if changed:
        _audit(actor, "webhook.updated", endpoint, changed=changed)
    if enabled != endpoint.enabled:
        set_endpoint_enabled(endpoint, actor, enabled)
        changed.append("enabled")
    return changed


@transaction.atomic
def set_endpoint_enabled(endpoint, actor, enabled):
    """Turn the endpoint on (with a clean health record: whatever made it fail is taken to be
    fixed) or off (the reason names the member)."""
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = ""
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
    else:
        who = (actor.get_full_name() or actor.email) if actor is not None else "a member"
        endpoint.disabled_reason = f"Turned off by {who}"[:200]
    endpoint.save(
        update_fields=[
            "enabled",
            "disabled_reason",
            "consecutive_failures",
            "failing_since",
            "updated_at",
        ]
    )
    _audit(actor, "webhook.enabled" if enabled else "webhook.disabled", endpoint)
    return endpoint


@transaction.atomic
def rotate_secret(endpoint, actor, *, now=None):
    """A new signing secret; the current one keeps signing alongside it for ROTATION_OVERLAP.
    A secret from an earlier rotation that was still in its overlap stops now."""
    now = now or timezone.now()
    # Lock the row: two rotations at once must not both keep the same "previous" secret.
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = webhook_secret()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"]
    )
    _audit(
        actor,
        "webhook.secret_rotated",
        endpoint,
        previous_valid_until=endpoint.previous_secret_until.isoformat(),
    )
    return endpoint
