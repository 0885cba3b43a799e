"""The JSON bodies of outgoing webhook events: one versioned schema for every booking event
(documented in docs/webhooks.md)."""

import hashlib

from attribution.sources import CLICK_ID_NETWORKS

SCHEMA_VERSION = 1
# Zenoti's currency ids are not mapped yet; the sandbox and the demo salons price in dollars.
CURRENCY = "USD"


def sha256_hex(value):
    return hashlib.sha256(value.encode()).hexdigest() if value else None


def normalised_email(email):
    return (email or "").strip().lower()


def normalised_phone(phone):
    """E.164 digits without the plus, as ad platforms hash phone numbers."""
    return "".join(ch for ch in phone or "" if ch.isdigit())


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def click_ids(session):
    """Every click id the guest arrived with (last touch first, then first touch), plus the
    ad-platform cookies the embed loader handed over."""
    found = {}
    for touch in (session.last_touch or {}, session.first_touch or {}):
        for name, value in (touch.get("params") or {}).items():
            if name in CLICK_ID_NETWORKS and value:
                found.setdefault(name, value)
    for touch in (session.last_touch or {}, session.first_touch or {}):
        for name, value in (touch.get("cookies") or {}).items():
            if value:
                found.setdefault(name, value)
    return found


def attribution(session):
    booked_at = session.confirmed_at or session.started_at
    lag = None
    if session.first_touch_at and booked_at:
        lag = max(0, int((booked_at - session.first_touch_at).total_seconds()))
    return {
        "first_touch": session.first_touch or None,
        "last_touch": session.last_touch or None,
        "click_ids": click_ids(session),
        "lag_seconds": lag,
    }


def booking_payload(session, event_type, *, now):
    center = session.center
    org = session.organization
    email = normalised_email(session.email)
    phone = normalised_phone(session.phone)
    return {
        "type": event_type,
        "version": SCHEMA_VERSION,
        "created_at": _iso(now),
        "organization": {"slug": org.slug, "name": org.public_name},
        "widget": {"code": session.widget.code, "name": session.widget.name},
        "booking": {
            "session": session.code,
            "state": session.state,
            "zenoti": {
                "guest_id": session.zenoti_guest_id or None,
                "booking_id": session.zenoti_booking_id or None,
                "invoice_id": session.invoice_id or None,
                "appointment_id": session.appointment_id or None,
            },
            "center": {
                "name": center.name,
                "zenoti_center_id": center.zenoti_center_id,
                "timezone": center.timezone,
            }
            if center
            else None,
            "service": {
                "id": session.service_id or None,
                "name": session.service_name or None,
                "duration_minutes": session.duration_minutes,
            },
            "provider": {
                "id": session.therapist_id or None,
                "name": session.therapist_name or None,
            },
            "start": {
                "local": session.local_start.isoformat() if session.starts_at else None,
                "utc": _iso(session.starts_at),
            },
            "price": str(session.price) if session.price is not None else None,
            "amount_paid": str(session.amount_paid) if session.amount_paid is not None else None,
            "currency": CURRENCY,
        },
        "guest": {
            "first_name": session.first_name or None,
            "email": session.email or None,
            "phone": session.phone or None,
            "email_sha256": sha256_hex(email),
            "phone_sha256": sha256_hex(phone),
            "marketing_consent": session.marketing_consent,
        },
        "attribution": attribution(session),
    }
