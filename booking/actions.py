"""Multi-row writes of the booking app done by members: each runs in one transaction and leaves
an audit entry."""

from django.db import transaction

from booking.models import Widget
from tenants.actions import audit


@transaction.atomic
def create_widget(organization, actor, data):
    """A new widget; `data` holds Widget fields, with `centers` as a list of the
    organization's Centers (empty: all of them)."""
    data = dict(data)
    centers = data.pop("centers", [])
    widget = Widget.objects.create(organization=organization, **data)
    widget.centers.set(centers)
    audit(actor, "widget.created", organization=organization, target=widget.name, code=widget.code)
    return widget


@transaction.atomic
def update_widget(widget, actor, data):
    """Save the changed fields of the widget; returns the names of those that changed."""
    data = dict(data)
    changed = []
    if "centers" in data:
        centers = data.pop("centers")
        if {c.pk for c in centers} != set(widget.centers.values_list("pk", flat=True)):
            widget.centers.set(centers)
            changed.append("centers")
    fields = [name for name, value in data.items() if getattr(widget, name) != value]
    for name in fields:
        setattr(widget, name, data[name])
    if fields:
        widget.save(update_fields=[*fields, "updated_at"])
    changed += fields
    if changed:
        audit(
            actor,
            "widget.updated",
            organization=widget.organization,
            target=widget.name,
            code=widget.code,
            changed=changed,
        )
    return changed


@transaction.atomic
def set_widget_enabled(widget, actor, enabled):
    if widget.enabled == enabled:
        return widget
    widget.enabled = enabled
    widget.save(update_fields=["enabled", "updated_at"])
    audit(
        actor,
        "widget.enabled" if enabled else "widget.disabled",
        organization=widget.organization,
        target=widget.name,
        code=widget.code,
    )
    return widget
