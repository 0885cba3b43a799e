"""The guest's booking confirmation email (HTML + text, in the salon's branding)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from booking.models import BookingSession, BookingState

logger = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died mid-send: the next run takes over.
CLAIM_SECONDS = 10 * 60


def confirmation_context(session):
    args = [session.organization.slug, session.widget.code, session.code]
    return {
        "session": session,
        "organization": session.organization,
        "widget": session.widget,
        "center": session.center,
        "brand": session.widget.brand,
        "starts": timezone.localtime(session.starts_at, session.center_zone),
        "ends": timezone.localtime(session.ends_at, session.center_zone)
        if session.ends_at
        else None,
        "zone_name": session.center.timezone.split("/")[-1].replace("_", " "),
        "booking_url": settings.SITE_URL + reverse("booking-step-done", args=args),
        "ics_url": settings.SITE_URL + reverse("booking-ics", args=args),
    }


def send_confirmation(session_id):
    """Send the confirmation once. The row is claimed first (email_sent_at), so a job run
    twice sends once; a failed send gives the claim back and raises, for the job to retry."""
    now = timezone.now()
    claimed = BookingSession.objects.filter(
        pk=session_id, state=BookingState.CONFIRMED, email_sent_at__isnull=True
    ).update(email_sent_at=now)
    if not claimed:
        return "already sent"
    try:
        session = BookingSession.objects.select_related("organization", "widget", "center").get(
            pk=session_id
        )
        if not session.email:
            return "no address"
        _message(session).send()
    except Exception:
        BookingSession.objects.filter(pk=session_id, email_sent_at=now).update(email_sent_at=None)
        raise
    return "sent"


def _message(session):
    ctx = confirmation_context(session)
    subject = "".join(render_to_string("booking/email/confirmation_subject.txt", ctx).splitlines())
    message = EmailMultiAlternatives(
        subject, render_to_string("booking/email/confirmation.txt", ctx), to=[session.email]
    )
    message.attach_alternative(
        render_to_string("booking/email/confirmation.html", ctx), "text/html"
    )
    return message


def resend_unsent(now=None):
    """Confirmations whose job never ran (a lost task): called by the sweeper."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=CLAIM_SECONDS)
    return list(
        BookingSession.objects.filter(
            state=BookingState.CONFIRMED, email_sent_at__isnull=True, confirmed_at__lt=cutoff
        ).values_list("pk", flat=True)[:50]
    )
