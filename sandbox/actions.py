"""Writes of the sandbox, each one transaction: holds, confirmations, invoices, payments,
appointment status changes, and the "slot stolen" fault.

Two guests never hold or confirm overlapping time with one therapist: reserve and confirm
lock the therapist rows (select_for_update, in primary-key order) and re-check overlap with
appointments and live holds while holding the locks.
"""

import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Max

from sandbox import clock
from sandbox.errors import (
    ALREADY_PAID,
    INVOICE_CLOSED,
    MISSING_INPUT,
    NO_ACCESS,
    NOT_FOUND,
    SLOT_UNAVAILABLE,
    ApiError,
)
from sandbox.models import Appointment, Booking, Guest, Invoice, Payment, Therapist
from sandbox.slots import HOLD_MINUTES, Availability, candidates

SLOT_TAKEN = "The selected slot is no longer available. Select another date/time."
HOLD_LAPSED = (
    "Couldn't confirm the booking: the reservation has expired. Select the date/time again."
)
NAMESPACE = uuid.UUID("6f0c7f4e-3f0b-4a52-a3c5-0a9d3c1b2e10")


def invoice_item_id(booking):
    """The invoice line of a hold keeps its id when the hold is confirmed."""
    return uuid.uuid5(NAMESPACE, f"item:{booking.reservation_id}")


def release_lapsed_holds(organization):
    """Void the temporary invoices of holds that lapsed unconfirmed, as Zenoti does."""
    now = clock.now()
    Invoice.objects.filter(
        organization=organization,
        status=Invoice.Status.OPEN,
        bookings__confirmed_at=None,
        bookings__hold_expires_at__lte=now,
    ).update(status=Invoice.Status.VOID, closed_at=now)


def _new_invoice(booking, now):
    last = Invoice.objects.filter(organization=booking.organization).aggregate(n=Max("number"))
    service = booking.service
    return Invoice.objects.create(
        organization=booking.organization,
        center=booking.center,
        guest=booking.guest,
        number=(last["n"] or 1000) + 1,
        total=service.final_price,
        tax=service.tax,
        created_at=now,
    )


def _locked_booking(organization, booking_id):
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("center", "service", "guest", "invoice")
        .filter(organization=organization, pk=booking_id)
        .first()
    )
    if booking is None:
        raise ApiError(NOT_FOUND, "Invalid booking id.")
    return booking


@transaction.atomic
def steal_slot(organization, booking_id, start):
    """Fault: another guest books `start` with every therapist who could have served
    `booking_id` then, so the reserve that follows finds the slot really gone."""
    booking = Booking.objects.filter(organization=organization, pk=booking_id).first()
    if booking is None:
        return
    now = clock.now()
    therapists = candidates(booking, lock=True)
    availability = Availability(
        booking.center, booking.service, therapists, start.date(), start.date(), now
    )
    if start not in availability.grid(start.date()):
        return
    other, _ = Guest.objects.get_or_create(
        organization=organization,
        email="walk-in@sandbox.invalid",
        defaults={
            "center": booking.center,
            "first_name": "Walk-in",
            "last_name": "Guest",
            "created_at": now,
        },
    )
    service = booking.service
    for therapist in therapists:
        if availability.is_free(therapist, start):
            begins = booking.center.aware(start)
            Appointment.objects.create(
                organization=organization,
                center=booking.center,
                guest=other,
                service=service,
                therapist=therapist,
                start=begins,
                end=begins + timedelta(minutes=service.duration),
                blocked_until=begins + timedelta(minutes=service.duration + service.recovery_time),
                price=service.final_price,
                notes="Taken by the sandbox's slot-stolen fault.",
                created_at=now,
            )


@transaction.atomic
def reserve(organization, booking_id, start, *, create_invoice=False):
    """Hold `start` (naive center-local) for the booking's guest for HOLD_MINUTES."""
    now = clock.now()
    booking = _locked_booking(organization, booking_id)
    if booking.guest is None:
        raise ApiError(MISSING_INPUT, "Guest is missing.")
    if booking.confirmed_at:
        raise ApiError(NOT_FOUND, "The booking is already confirmed.")
    if start.date() != booking.date:
        raise ApiError(NOT_FOUND, "slot_time is not on the booking's date.")
    therapists = candidates(booking, lock=True)
    availability = Availability(
        booking.center, booking.service, therapists, booking.date, booking.date, now, ignore=booking
    )
    therapist = availability.free_therapist(start)
    if therapist is None:
        raise ApiError(
            SLOT_UNAVAILABLE, SLOT_TAKEN, is_reserved=False, reservation_id=None, expiry_time=None
        )
    if booking.invoice and booking.invoice.status == Invoice.Status.OPEN:
        # The previous hold's temporary invoice goes with it.
        booking.invoice.status = Invoice.Status.VOID
        booking.invoice.closed_at = now
        booking.invoice.save(update_fields=["status", "closed_at"])
    service = booking.service
    booking.reservation_id = uuid.uuid4()
    booking.hold_therapist = therapist
    booking.hold_start = booking.center.aware(start)
    booking.hold_end = booking.center.aware(
        start + timedelta(minutes=service.duration + service.recovery_time)
    )
    booking.hold_expires_at = now + timedelta(minutes=HOLD_MINUTES)
    booking.invoice = _new_invoice(booking, now) if create_invoice else None
    booking.save()
    return booking


@transaction.atomic
def confirm(organization, booking_id, *, notes="", group_name=""):
    """Turn the booking's live hold into an appointment with an invoice. Confirming a
    confirmed booking answers the same confirmation again."""
    now = clock.now()
    booking = _locked_booking(organization, booking_id)
    if booking.confirmed_at:
        return booking
    if not booking.hold_is_live(now):
        raise ApiError(SLOT_UNAVAILABLE, HOLD_LAPSED, is_confirmed=False)
    therapist = booking.hold_therapist
    list(Therapist.objects.select_for_update().filter(pk=therapist.pk).values_list("pk"))
    clash = (
        Appointment.objects.filter(
            therapist=therapist, start__lt=booking.hold_end, blocked_until__gt=booking.hold_start
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .exists()
        or Booking.objects.filter(
            hold_therapist=therapist,
            hold_expires_at__gt=now,
            confirmed_at=None,
            hold_start__lt=booking.hold_end,
            hold_end__gt=booking.hold_start,
        )
        .exclude(pk=booking.pk)
        .exists()
    )
    if clash:
        raise ApiError(SLOT_UNAVAILABLE, SLOT_TAKEN, is_confirmed=False)
    invoice = booking.invoice
    # The hold's temporary invoice carries over, paid (closed) or not; only a voided or
    # cancelled one is replaced.
    if invoice is None or invoice.status in (Invoice.Status.VOID, Invoice.Status.CANCELLED):
        invoice = _new_invoice(booking, now)
    service = booking.service
    Appointment.objects.create(
        organization=organization,
        center=booking.center,
        guest=booking.guest,
        service=service,
        therapist=therapist,
        booking=booking,
        invoice=invoice,
        invoice_item_id=invoice_item_id(booking),
        start=booking.hold_start,
        end=booking.hold_start + timedelta(minutes=service.duration),
        blocked_until=booking.hold_end,
        price=service.final_price,
        notes=notes,
        created_at=now,
    )
    booking.invoice = invoice
    booking.confirmed_at = now
    booking.notes = notes
    booking.group_name = group_name
    booking.save(update_fields=["invoice", "confirmed_at", "notes", "group_name"])
    return booking


def _locked_invoice(organization, invoice_id):
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("center")
        .filter(organization=organization, pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise ApiError(NOT_FOUND, "Invalid invoice id.")
    return invoice


@transaction.atomic
def cancel_invoice(organization, invoice_id, *, comments=""):
    """Cancel every appointment on the invoice (and a hold that made it) and the invoice."""
    now = clock.now()
    invoice = _locked_invoice(organization, invoice_id)
    invoice.appointments.exclude(status=Appointment.Status.CANCELLED).update(
        status=Appointment.Status.CANCELLED, status_changed_at=now
    )
    invoice.bookings.filter(confirmed_at=None, hold_expires_at__gt=now).update(hold_expires_at=now)
    if invoice.status == Invoice.Status.OPEN:
        invoice.status = Invoice.Status.CANCELLED
        invoice.closed_at = now
    if comments:
        invoice.comments = comments
    invoice.save(update_fields=["status", "closed_at", "comments"])
    return invoice


@transaction.atomic
def start_online_payment(organization, invoice_id, *, center, redirect_uri):
    invoice = _locked_invoice(organization, invoice_id)
    if invoice.center_id != center.pk:
        raise ApiError(NOT_FOUND, "The invoice does not belong to this center.")
    if not center.takes_online_payment:
        raise ApiError(NO_ACCESS, "Online payment is not enabled for this center.")
    if invoice.status == Invoice.Status.CLOSED or (invoice.total and not invoice.balance):
        raise ApiError(ALREADY_PAID, "Payment has already been made in full for this invoice.")
    if invoice.is_closed:
        raise ApiError(INVOICE_CLOSED, "The invoice is closed.")
    return Payment.objects.create(
        invoice=invoice, redirect_uri=redirect_uri, amount=invoice.balance, created_at=clock.now()
    )


@transaction.atomic
def complete_payment(payment, card_last4):
    """The card was charged: the invoice is paid in full and closed. Returns False when the
    invoice could no longer be paid (already paid, cancelled or voided meanwhile)."""
    now = clock.now()
    invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    if invoice.status != Invoice.Status.OPEN:
        return False
    payment.amount = invoice.balance
    invoice.paid = invoice.total
    invoice.status = Invoice.Status.CLOSED
    invoice.closed_at = now
    invoice.save(update_fields=["paid", "status", "closed_at"])
    payment.status = Payment.Status.SUCCEEDED
    payment.card_last4 = card_last4
    payment.completed_at = now
    payment.save(update_fields=["amount", "status", "card_last4", "completed_at"])
    return True


def set_payment_status(payment, status):
    payment.status = status
    payment.save(update_fields=["status"])


def set_appointment_status(appointment, status):
    """Cancel or no-show from the sandbox admin page (what a front desk does in Zenoti)."""
    appointment.status = status
    appointment.status_changed_at = clock.now()
    appointment.save(update_fields=["status", "status_changed_at"])
