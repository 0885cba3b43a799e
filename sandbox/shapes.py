"""Zenoti's JSON shapes, quirks included: PascalCase slots and confirm guest, the misspelled
`serviceduration_in_miutes` and `center_Name`, naive center-local datetimes."""

import uuid
from datetime import UTC
from decimal import Decimal

from sandbox.actions import NAMESPACE, invoice_item_id
from sandbox.models import Payment
from sandbox.slots import HOLD_MINUTES


def money(amount):
    return float(Decimal(amount).quantize(Decimal("0.01")))


def naive(moment):
    """A naive datetime as Zenoti writes it: 2026-12-01T09:15:00."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def local(center, moment):
    return naive(center.local(moment)) if moment else None


def center_summary(center):
    return {
        "id": str(center.id),
        "code": center.code,
        "name": center.name,
        "display_name": center.display_name,
        "time_zone": center.time_zone,
        "phone": center.phone,
        "email": center.email,
    }


def center_detail(center):
    return {
        "id": str(center.id),
        "name": center.name,
        "display_name": center.display_name,
        "code": center.code,
        "phone": center.phone,
        "email": center.email,
        "time_zone_id": center.time_zone_id,
        "time_zone": center.time_zone,
        "currency_id": center.currency_id,
    }


def service(service, center):
    return {
        "id": str(service.id),
        "code": service.code,
        "name": service.name,
        "description": service.description,
        "duration": service.duration,
        "recovery_time": service.recovery_time,
        "is_couple_service": False,
        "price_info": {
            "currency_id": center.currency_id,
            "sale_price": money(service.price),
            "tax_id": None,
            "include_tax": False,
            "tax": money(service.tax),
            "price_without_tax": money(service.price),
            "final_price": money(service.final_price),
        },
        "catalog_info": {
            "show_in_catalog": service.show_in_catalog,
            "can_book": service.can_book,
            "category_id": str(service.category_id),
            "category_name": service.category.name,
        },
    }


def therapist(therapist):
    return {
        "id": str(therapist.id),
        "code": therapist.code,
        "personal_info": {
            "first_name": therapist.first_name,
            "last_name": therapist.last_name,
            "name": therapist.full_name,
            "nick_name": therapist.nick_name,
            "gender": therapist.gender,
        },
        "job_info": {
            "id": str(uuid.uuid5(NAMESPACE, f"job:{therapist.job_name}")),
            "name": therapist.job_name,
        },
    }


def guest(guest):
    phone = None
    if guest.phone_number:
        phone = {"country_code": guest.phone_country_id, "number": guest.phone_number}
    referral = None
    if guest.referral_source_id:
        source = guest.referral_source
        referral = {"referral_source": {"id": str(source.id), "name": source.name}}
    return {
        "id": str(guest.id),
        "center_id": str(guest.center_id),
        "personal_info": {
            "first_name": guest.first_name,
            "last_name": guest.last_name,
            "email": guest.email or None,
            "mobile_phone": phone,
            "gender": guest.gender,
        },
        "preferences": {
            "receive_marketing_email": guest.receive_marketing_email,
            "receive_marketing_sms": guest.receive_marketing_sms,
        },
        "referral": referral,
    }


def _person(therapist):
    return {"id": str(therapist.id), "full_name": therapist.full_name}


def reservation(booking):
    invoices = None
    if booking.invoice_id:
        invoices = [{"invoice_id": str(booking.invoice_id), "guest_id": str(booking.guest_id)}]
    return {
        "is_reserved": True,
        "reservation_id": str(booking.reservation_id),
        "expiry_time": local(booking.center, booking.hold_expires_at),
        "blocking_time": HOLD_MINUTES,  # [ours] minutes the slot stays held
        "invoices": invoices,
    }


def confirmation(booking):
    """The confirm answer; the guest object is PascalCase in Zenoti's."""
    center = booking.center
    appointments = booking.appointments.select_related("service", "therapist").order_by("start")
    return {
        "is_confirmed": True,
        "invoice": {
            "invoice_id": str(booking.invoice_id),
            "guest": {
                "Id": str(booking.guest.id),
                "FirstName": booking.guest.first_name,
                "LastName": booking.guest.last_name,
            },
            "items": [
                {
                    "appointment_id": str(a.id),
                    "invoice_item_id": str(a.invoice_item_id),
                    "item": {"id": str(a.service.id), "name": a.service.name},
                    "therapist": _person(a.therapist),
                    "start_time": local(center, a.start),
                    "end_time": local(center, a.end),
                }
                for a in appointments
            ],
        },
    }


def _invoice_items(invoice):
    center = invoice.center
    items = [
        {
            "id": str(a.invoice_item_id),
            "appointment_id": str(a.id),
            "item": {"id": str(a.service.id), "name": a.service.name, "type": "Service"},
            "therapist": _person(a.therapist),
            "start_time": local(center, a.start),
            "end_time": local(center, a.end),
            "price": {"final_price": money(a.price)},
        }
        for a in invoice.appointments.select_related("service", "therapist").order_by("start")
    ]
    if items:
        return items
    # A reservation's temporary invoice: the held service, no appointment yet.
    booking = invoice.bookings.select_related("service", "hold_therapist").first()
    if booking is None or booking.hold_therapist is None:
        return []
    return [
        {
            "id": str(invoice_item_id(booking)),
            "appointment_id": None,
            "item": {
                "id": str(booking.service.id),
                "name": booking.service.name,
                "type": "Service",
            },
            "therapist": _person(booking.hold_therapist),
            "start_time": local(center, booking.hold_start),
            "end_time": None,
            "price": {"final_price": money(booking.service.final_price)},
        }
    ]


def invoice(invoice, expand=()):
    center = invoice.center
    body = {
        "id": str(invoice.id),
        "invoice_number": str(invoice.number),
        "invoice_date": local(center, invoice.created_at),
        "center_id": str(center.id),
        "status": invoice.status,
        "is_closed": invoice.is_closed,
        "guest": {
            "id": str(invoice.guest.id),
            "first_name": invoice.guest.first_name,
            "last_name": invoice.guest.last_name,
            "email": invoice.guest.email or None,
        },
        "invoice_dues": {
            "total": money(invoice.total),
            "paid": money(invoice.paid),
            "balance": money(invoice.balance),
        },
        "total_price": {
            "currency_id": center.currency_id,
            "sum_total": money(invoice.total),
            "net_price": money(invoice.total - invoice.tax),
            "tax": money(invoice.tax),
        },
    }
    if "invoiceitems" in expand:
        body["invoice_items"] = _invoice_items(invoice)
    if "transactions" in expand:
        body["transactions"] = [
            {
                "id": str(p.token),
                "amount": money(p.amount),
                "payment_type": "CreditCard",
                "card_last4": p.card_last4,
                "date": local(center, p.completed_at),
            }
            for p in invoice.payments.filter(status=Payment.Status.SUCCEEDED)
        ]
    return body


def appointment(appointment):
    center = appointment.center
    return {
        "appointment_id": str(appointment.id),
        "appointment_group_id": str(appointment.group_id),
        "invoice_id": str(appointment.invoice_id) if appointment.invoice_id else None,
        "invoice_item_id": str(appointment.invoice_item_id),
        "center_id": str(center.id),
        "center_Name": center.name,
        "guest": {
            "id": str(appointment.guest.id),
            "first_name": appointment.guest.first_name,
            "last_name": appointment.guest.last_name,
        },
        "service": {"id": str(appointment.service.id), "name": appointment.service.name},
        "therapist": _person(appointment.therapist),
        "start_time": local(center, appointment.start),
        "end_time": local(center, appointment.end),
        "start_time_utc": naive(appointment.start.astimezone(UTC)),
        "end_time_utc": naive(appointment.end.astimezone(UTC)),
        "serviceduration_in_miutes": appointment.service.duration,
        "status": appointment.status,
        "notes": appointment.notes,
    }
