"""The demo salons: the ids and keys other code relies on, a realistic catalog and schedule,
and a loader that can run again without duplicating anything."""

from io import StringIO

from django.core.management import call_command

from sandbox.demo import load_demo
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

MODELS = [
    SandboxOrganization,
    ApiKey,
    ReferralSource,
    Center,
    OpeningHours,
    Category,
    Service,
    Therapist,
    Shift,
    DayOff,
    Guest,
    Invoice,
    Appointment,
]


def test_demo_has_the_agreed_ids_keys_and_zones(db):
    load_demo()
    lumen = SandboxOrganization.objects.get(slug="lumen")
    willow = SandboxOrganization.objects.get(slug="willow")
    assert lumen.referral_required and not willow.referral_required
    assert list(lumen.api_keys.values_list("key", flat=True)) == ["sandbox-lumen-key"]
    assert list(willow.api_keys.values_list("key", flat=True)) == ["sandbox-willow-key"]
    centers = {
        str(c.id): (c.name, c.time_zone, c.takes_online_payment) for c in Center.objects.all()
    }
    assert centers == {
        "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01": ("Lumen SoHo", "America/New_York", False),
        "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02": ("Lumen Santa Monica", "America/Los_Angeles", True),
        "7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01": ("Willow Uptown", "America/Chicago", False),
    }
    sources = {str(s.id): s.name for s in lumen.referral_sources.all()}
    assert sources == {
        "5d0c3e5a-8a0f-4d57-9d1f-000000000001": "Website",
        "5d0c3e5a-8a0f-4d57-9d1f-000000000002": "Google Ads",
        "5d0c3e5a-8a0f-4d57-9d1f-000000000003": "Facebook & Instagram",
        "5d0c3e5a-8a0f-4d57-9d1f-000000000004": "Yelp",
    }


def test_demo_salon_is_realistic(db):
    load_demo()
    lumen = SandboxOrganization.objects.get(slug="lumen")
    services = Service.objects.filter(organization=lumen)
    assert services.count() >= 12
    assert Category.objects.filter(organization=lumen).count() >= 3
    assert services.filter(can_book=False).exists()
    therapists = Therapist.objects.filter(center__organization=lumen)
    assert therapists.count() >= 6
    assert all(t.shifts.exists() for t in therapists)
    assert DayOff.objects.filter(therapist__in=therapists).exists()
    assert all(c.slot_interval_minutes == 15 for c in lumen.centers.all())
    assert all(c.hours.exists() for c in lumen.centers.all())
    assert Appointment.objects.filter(organization=lumen, invoice__isnull=False).count() > 20


def test_demo_appointments_fit_shifts_and_never_overlap(db):
    load_demo()
    for therapist in Therapist.objects.all():
        booked = list(therapist.appointments.order_by("start"))
        for earlier, later in zip(booked, booked[1:], strict=False):
            assert earlier.blocked_until <= later.start
        for appointment in booked:
            local = appointment.center.local(appointment.start)
            shift = therapist.shifts.get(weekday=local.weekday())
            assert shift.starts <= local.time()
            assert appointment.service.centers.filter(pk=appointment.center_id).exists()


def test_load_demo_twice_changes_nothing(db):
    load_demo()
    counts = {model: model.objects.count() for model in MODELS}
    load_demo()
    assert {model: model.objects.count() for model in MODELS} == counts


def test_load_demo_keeps_knobs_set_on_the_admin_page(db):
    load_demo()
    SandboxOrganization.objects.filter(slug="lumen").update(error_rate=0.5, rate_limit=10)
    load_demo()
    lumen = SandboxOrganization.objects.get(slug="lumen")
    assert (lumen.error_rate, lumen.rate_limit) == (0.5, 10)


def test_seed_sandbox_command_loads_the_demo(db):
    out = StringIO()
    call_command("seed_sandbox", stdout=out)
    assert "sandbox-lumen-key" in out.getvalue()
    assert SandboxOrganization.objects.count() == 2
