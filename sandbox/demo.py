"""The sandbox's demo salons: "lumen" (two centers in New York and Santa Monica, the second
taking payment online, referral source required) and "willow" (one center in Chicago), with
menus, therapists, weekly schedules, days off, guests and appointments around today.

`load_demo()` is idempotent: ids are fixed (or derived from names), rows are updated in place,
and fault knobs or rate limits someone set on the admin page are left alone.
"""

import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max

from sandbox import clock
from sandbox.models import (
    ApiKey,
    Appointment,
    Category,
    Center,
    DayOff,
    Guest,
    Invoice,
    OpeningHours,
    ReferralSource,
    SandboxOrganization,
    Service,
    Shift,
    Therapist,
)

# The demo organization's booking widget (made by seed_demo): a fixed code, so the README,
# the example host page /sandbox/host/ and tests can name it.
DEMO_WIDGET_CODE = "lumenweb"

DEMO = uuid.UUID("2b7d6f0e-41f4-4c8e-9a3b-5e1f0d2c7a90")


def _id(*parts):
    return uuid.uuid5(DEMO, ":".join(str(p) for p in parts))


def _t(text):
    return time.fromisoformat(text)


# Demo data tables: one row per line reads better than the formatter's layout.
# fmt: off
# weekday: (opens, closes); a missing weekday is closed. 0 = Monday.
TUE_TO_SUN = {1: ("09:00", "20:00"), 2: ("09:00", "20:00"), 3: ("09:00", "20:00"),
              4: ("09:00", "20:00"), 5: ("09:00", "18:00"), 6: ("10:00", "16:00")}
EVERY_DAY = {**{d: ("09:00", "19:00") for d in range(6)}, 6: ("10:00", "17:00")}
MON_TO_SAT = {d: ("10:00", "19:00") for d in range(6)}


def _days(days, start, end):
    return {d: (start, end) for d in days}


ORGANIZATIONS = [
    {
        "slug": "lumen",
        "name": "Lumen Hair & Spa",
        "referral_required": True,
        "keys": ["sandbox-lumen-key"],
        "referral_sources": [
            ("5d0c3e5a-8a0f-4d57-9d1f-000000000001", "Website"),
            ("5d0c3e5a-8a0f-4d57-9d1f-000000000002", "Google Ads"),
            ("5d0c3e5a-8a0f-4d57-9d1f-000000000003", "Facebook & Instagram"),
            ("5d0c3e5a-8a0f-4d57-9d1f-000000000004", "Yelp"),
        ],
        # category: [(code, name, minutes, recovery minutes, price, bookable online, description)]
        "menu": {
            "Hair": [
                ("HC-W", "Women's Haircut & Style", 60, 0, "85", True, "Wash, cut and finish."),
                ("HC-M", "Men's Haircut", 30, 0, "45", True, "Clipper and scissor cut."),
                ("BLOW", "Blowout", 45, 0, "55", True, "Wash and a smooth, lasting blowout."),
                ("HC-K", "Kids' Cut", 30, 0, "35", False, "Under 12. Book by phone."),
            ],
            "Color": [
                ("BAL", "Balayage", 120, 15, "240", True, "Hand-painted, sun-kissed highlights."),
                ("ROOT", "Root Touch-Up", 90, 15, "120", True, "Single-process color."),
                ("GLOSS", "Gloss Treatment", 45, 0, "65", True, "Shine and tone refresh."),
                ("CORR", "Color Correction", 180, 15, "350", False, "Consultation first."),
            ],
            "Nails": [
                ("MANI", "Classic Manicure", 30, 0, "30", True, "Shape, cuticle care, polish."),
                ("GEL", "Gel Manicure", 45, 0, "48", True, "Long-wear gel polish."),
                ("PEDI", "Spa Pedicure", 50, 10, "58", True, "Soak, scrub, massage, polish."),
            ],
            "Skin & Massage": [
                ("FAC", "Signature Facial", 60, 15, "120", True, "Cleanse, exfoliate and mask."),
                ("BROW", "Brow Shaping", 15, 0, "25", True, "Wax and tidy."),
                ("DTM", "Deep Tissue Massage", 60, 15, "130", True, "Firm pressure."),
                ("HSM", "Hot Stone Massage", 90, 15, "170", False, "Book by phone."),
            ],
        },
        "centers": [
            {
                "id": "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01",
                "code": "SOHO",
                "name": "Lumen SoHo",
                "time_zone": "America/New_York",
                "time_zone_id": 20,
                "phone": "+1 212 555 0143",
                "email": "soho@lumen.example",
                "takes_online_payment": False,
                "hours": TUE_TO_SUN,
                "not_offered": ["DTM", "HSM"],
                # (first, last, job, gender, services, weekly shifts, days off counted from today)
                "therapists": [
                    ("Ana", "Ruiz", "Senior Stylist", 0, ["HC-W", "BLOW", "BAL", "ROOT", "GLOSS"],
                     _days((1, 2, 3, 4, 5), "09:00", "17:00"), [2]),
                    ("Ben", "Carter", "Barber", 1, ["HC-M", "HC-K", "BLOW", "HC-W"],
                     {**_days((1, 2, 3, 4), "12:00", "20:00"), 6: ("10:00", "16:00")}, [5]),
                    ("Chloe", "Nguyen", "Nail Technician", 0, ["MANI", "GEL", "PEDI"],
                     {**_days((2, 3, 4), "10:00", "18:00"), 5: ("09:00", "18:00"),
                      6: ("10:00", "16:00")}, [4]),
                    ("Dara", "Okafor", "Esthetician", 0, ["FAC", "BROW"],
                     _days((1, 2, 3, 4, 5), "10:00", "18:00"), [1]),
                    ("Eli", "Brooks", "Colorist", 1, ["BAL", "ROOT", "GLOSS", "CORR"],
                     {**_days((3, 4), "11:00", "20:00"), 5: ("09:00", "18:00"),
                      6: ("10:00", "16:00")}, [8]),
                ],
            },
            {
                "id": "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02",
                "code": "SMO",
                "name": "Lumen Santa Monica",
                "time_zone": "America/Los_Angeles",
                "time_zone_id": 4,
                "phone": "+1 310 555 0178",
                "email": "santamonica@lumen.example",
                "takes_online_payment": True,
                "hours": EVERY_DAY,
                "not_offered": ["CORR"],
                "therapists": [
                    ("Farah", "Haddad", "Stylist", 0, ["HC-W", "HC-M", "BLOW", "GLOSS", "HC-K"],
                     _days((0, 1, 2, 3, 4), "09:00", "17:00"), [1]),
                    ("Gabe", "Moreno", "Massage Therapist", 1, ["DTM", "HSM"],
                     {**_days((2, 3, 4), "10:00", "19:00"), 5: ("09:00", "19:00"),
                      6: ("10:00", "17:00")}, [3]),
                    ("Hana", "Sato", "Esthetician", 0, ["FAC", "BROW", "MANI", "GEL", "PEDI"],
                     _days((0, 1, 2, 3, 4, 5), "11:00", "19:00"), [6]),
                    ("Ivy", "Lopez", "Colorist", 0, ["BAL", "ROOT", "GLOSS", "HC-W"],
                     {**_days((1, 2, 3, 4, 5), "09:00", "17:00"), 6: ("10:00", "17:00")}, [2]),
                ],
            },
        ],
        # (first, last, email, phone, referral source index, center index)
        "guests": [
            ("Jane", "Doe", "jane.doe@example.com", "2125550101", 0, 0),
            ("Priya", "Shah", "priya.shah@example.com", "6465550102", 1, 0),
            ("Tom", "Becker", "tom.becker@example.com", "9175550105", 3, 0),
            ("Marcus", "Lee", "marcus.lee@example.com", "3105550103", 1, 1),
            ("Sofia", "Rossi", "sofia.rossi@example.com", "3105550104", 2, 1),
            ("Mia", "Johnson", "mia.johnson@example.com", "4245550106", 0, 1),
        ],
    },
    {
        "slug": "willow",
        "name": "Willow Med Spa",
        "referral_required": False,
        "keys": ["sandbox-willow-key"],
        "referral_sources": [
            (str(_id("willow", "ref", "website")), "Website"),
            (str(_id("willow", "ref", "instagram")), "Instagram"),
        ],
        "menu": {
            "Injectables": [
                ("TOX", "Wrinkle Relaxer Consultation", 30, 0, "0", True, "Free consultation."),
                ("FILL", "Lip Filler", 60, 15, "650", False, "Consultation required."),
            ],
            "Facials": [
                ("HYD", "HydraFacial", 60, 15, "199", True, "Cleanse, extract and hydrate."),
                ("PEEL", "Chemical Peel", 45, 15, "150", True, "Brightening medium-depth peel."),
                ("XFAC", "Express Facial", 30, 0, "75", True, "A quick glow-up."),
            ],
            "Body": [
                ("SWE", "Swedish Massage", 60, 15, "110", True, "Relaxing full-body massage."),
                ("LHR", "Laser Hair Removal", 30, 10, "120", True, "One small area."),
            ],
        },
        "centers": [
            {
                "id": "7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01",
                "code": "UPT",
                "name": "Willow Uptown",
                "time_zone": "America/Chicago",
                "time_zone_id": 11,
                "phone": "+1 312 555 0190",
                "email": "uptown@willow.example",
                "takes_online_payment": False,
                "hours": MON_TO_SAT,
                "not_offered": [],
                "therapists": [
                    ("Wes", "Turner", "Massage Therapist", 1, ["SWE"],
                     _days((0, 1, 2, 3, 4), "10:00", "19:00"), [2]),
                    ("Yara", "Kim", "Nurse Injector", 0, ["TOX", "FILL", "LHR"],
                     _days((1, 2, 3, 4, 5), "10:00", "18:00"), [3]),
                    ("Zoe", "Adams", "Esthetician", 0, ["HYD", "PEEL", "XFAC", "LHR"],
                     _days((0, 2, 3, 4, 5), "11:00", "19:00"), [1]),
                ],
            }
        ],
        "guests": [
            ("Nora", "Quinn", "nora.quinn@example.com", "3125550111", 0, 0),
            ("Leo", "Grant", "leo.grant@example.com", "3125550112", 1, 0),
        ],
    },
]
# fmt: on

# Appointments already in the book: for each working day from two days ago to six days
# ahead, each therapist has clients at these hours after the start of their shift.
BOOKED_DAYS = range(-2, 7)
BOOKED_OFFSETS = (timedelta(hours=1), timedelta(hours=4))


@transaction.atomic
def load_demo():
    """Create or refresh the demo sandbox organizations; returns them by slug."""
    return {spec["slug"]: _load_organization(spec) for spec in ORGANIZATIONS}


def _load_organization(spec):
    org, _ = SandboxOrganization.objects.update_or_create(
        slug=spec["slug"],
        defaults={"name": spec["name"], "referral_required": spec["referral_required"]},
    )
    for key in spec["keys"]:
        ApiKey.objects.update_or_create(
            key=key, defaults={"organization": org, "label": "Demo key"}
        )
    sources = []
    for source_id, name in spec["referral_sources"]:
        source, _ = ReferralSource.objects.update_or_create(
            id=source_id, defaults={"organization": org, "name": name}
        )
        sources.append(source)
    services = {}
    for category_name, rows in spec["menu"].items():
        category, _ = Category.objects.update_or_create(
            id=_id(org.slug, "category", category_name),
            defaults={
                "organization": org,
                "name": category_name,
                "code": category_name[:3].upper(),
            },
        )
        for code, name, minutes, recovery, price, can_book, description in rows:
            services[code], _ = Service.objects.update_or_create(
                id=_id(org.slug, "service", code),
                defaults={
                    "organization": org,
                    "category": category,
                    "code": code,
                    "name": name,
                    "description": description,
                    "duration": minutes,
                    "recovery_time": recovery,
                    "price": Decimal(price),
                    "can_book": can_book,
                },
            )
    for number, center_spec in enumerate(spec["centers"]):
        center = _load_center(org, center_spec, services)
        guests = _load_guests(org, center, spec["guests"], sources, number)
        _book_around_today(org, center, guests)
    return org


def _load_center(org, spec, services):
    center, _ = Center.objects.update_or_create(
        id=spec["id"],
        defaults={
            "organization": org,
            "code": spec["code"],
            "name": spec["name"],
            "display_name": spec["name"],
            "time_zone": spec["time_zone"],
            "time_zone_id": spec["time_zone_id"],
            "phone": spec["phone"],
            "email": spec["email"],
            "takes_online_payment": spec["takes_online_payment"],
            "slot_interval_minutes": 15,
        },
    )
    # Weekly hours and shifts are rewritten whole: nothing refers to their rows.
    center.hours.all().delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(center=center, weekday=weekday, opens=_t(opens), closes=_t(closes))
        for weekday, (opens, closes) in spec["hours"].items()
    )
    center.services.set([s for code, s in services.items() if code not in spec["not_offered"]])
    today = clock.now().astimezone(center.zone).date()
    for position, (first, last, job, gender, codes, shifts, days_off) in enumerate(
        spec["therapists"], start=1
    ):
        therapist, _ = Therapist.objects.update_or_create(
            id=_id(center.id, "therapist", first, last),
            defaults={
                "center": center,
                "code": f"{center.code}-{position:02d}",
                "first_name": first,
                "last_name": last,
                "job_name": job,
                "gender": gender,
            },
        )
        therapist.services.set([services[code] for code in codes])
        therapist.shifts.all().delete()
        Shift.objects.bulk_create(
            Shift(therapist=therapist, weekday=weekday, starts=_t(starts), ends=_t(ends))
            for weekday, (starts, ends) in shifts.items()
        )
        DayOff.objects.bulk_create(
            [DayOff(therapist=therapist, date=today + timedelta(days=n)) for n in days_off],
            ignore_conflicts=True,
        )
    return center


def _load_guests(org, center, rows, sources, center_number):
    guests = []
    for position, (first, last, email, phone, source, at) in enumerate(rows):
        if at != center_number:
            continue
        values = {
            "organization": org,
            "center": center,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone_country_id": 225,
            "phone_number": phone,
            "referral_source": sources[source],
        }
        guest, _ = Guest.objects.update_or_create(
            id=_id(org.slug, "guest", email),
            defaults=values,
            create_defaults={**values, "created_at": clock.now() - timedelta(days=90 - position)},
        )
        guests.append(guest)
    return guests


def _book_around_today(org, center, guests):
    """Appointments (each with its invoice) from two days ago to six days ahead."""
    now = clock.now()
    today = now.astimezone(center.zone).date()
    open_days = {hours.weekday for hours in center.hours.all()}
    therapists = center.therapists.prefetch_related("shifts", "services", "days_off")
    booked = set(Appointment.objects.filter(center=center).values_list("pk", flat=True))
    number = Invoice.objects.filter(organization=org).aggregate(n=Max("number"))["n"] or 1000
    invoices, appointments = [], []
    turn = 0
    for offset in BOOKED_DAYS:
        day = today + timedelta(days=offset)
        if day.weekday() not in open_days:
            continue
        for therapist in therapists:
            shift = next((s for s in therapist.shifts.all() if s.weekday == day.weekday()), None)
            if shift is None or any(d.date == day for d in therapist.days_off.all()):
                continue
            menu = [s for s in therapist.services.all() if s.can_book]
            for slot, after in enumerate(BOOKED_OFFSETS):
                service = menu[(offset + slot) % len(menu)]
                starts = datetime.combine(day, shift.starts) + after
                if starts + timedelta(minutes=service.duration) > datetime.combine(day, shift.ends):
                    continue
                guest = guests[turn % len(guests)]
                turn += 1
                appointment_id = _id(therapist.id, "appointment", day, slot)
                if appointment_id in booked:
                    continue
                number += 1
                invoice = Invoice(
                    id=_id(appointment_id, "invoice"),
                    organization=org,
                    center=center,
                    guest=guest,
                    number=number,
                    total=service.final_price,
                    tax=service.tax,
                    created_at=now,
                )
                begins = center.aware(starts)
                invoices.append(invoice)
                appointments.append(
                    Appointment(
                        id=appointment_id,
                        organization=org,
                        center=center,
                        guest=guest,
                        service=service,
                        therapist=therapist,
                        invoice=invoice,
                        start=begins,
                        end=begins + timedelta(minutes=service.duration),
                        blocked_until=begins
                        + timedelta(minutes=service.duration + service.recovery_time),
                        price=service.final_price,
                        created_at=now,
                    )
                )
    Invoice.objects.bulk_create(invoices)
    Appointment.objects.bulk_create(appointments)
