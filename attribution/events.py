"""Funnel events: one cheap row per step a guest takes. Recording must never slow or break
the guest's page: a failure is logged and forgotten."""

import logging

from django.db import transaction

from attribution.models import FunnelEvent

logger = logging.getLogger(__name__)


def record(session, name, **fields):
    """Store event `name` for the session, with its choices and attribution at this moment."""
    touch = session.last_touch or session.first_touch or {}
    try:
        # A savepoint: a failed insert must not poison the caller's transaction.
        with transaction.atomic():
            FunnelEvent.objects.create(
                organization_id=session.organization_id,
                session=session,
                widget_id=session.widget_id,
                name=name,
                center_id=session.center_id,
                service_id=fields.get("service_id", session.service_id),
                therapist_id=fields.get("therapist_id", session.therapist_id),
                source=(touch.get("source") or "")[:100],
                medium=(touch.get("medium") or "")[:100],
                campaign=(touch.get("campaign") or "")[:200],
                network=(touch.get("network") or "")[:20],
            )
    except Exception:
        logger.exception("Could not record funnel event %s of session %s", name, session.pk)
