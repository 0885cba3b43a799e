"""Load the demo agency, organizations, users, centers and referral rules, and the Zenoti
sandbox's demo salons the centers are connected to. Safe to re-run."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from attribution.models import WebhookEndpoint, WebhookEventType
from booking.models import Widget
from sandbox.demo import DEMO_WIDGET_CODE
from tenants.models import (
    Agency,
    AgencyMembership,
    Center,
    Membership,
    Organization,
    ReferralRule,
    Role,
    User,
)

DEMO_PASSWORD = "chairfill-demo"
# The keys of the sandbox organizations that sandbox.demo.load_demo() creates.
SANDBOX_KEYS = {"lumen": "sandbox-lumen-key", "willow": "sandbox-willow-key"}


def sandbox_api_url():
    """Where this deployment serves the Zenoti sandbox (mounted when SANDBOX_ENABLED)."""
    return f"{settings.SITE_URL}/sandbox/zenoti/v1"


USERS = [
    # email, full name, organization slug (None = agency), role
    ("owner@lumen.example", "Olivia Park", "lumen", Role.OWNER),
    ("manager@lumen.example", "Marco Diaz", "lumen", Role.MANAGER),
    ("viewer@lumen.example", "Vera Chen", "lumen", Role.VIEWER),
    ("owner@willow.example", "Wendy Shaw", "willow", Role.OWNER),
    ("ana@glowgrowth.example", "Ana Agency", None, None),
]

ORGANIZATIONS = [
    {
        "slug": "lumen",
        "name": "Lumen Hair & Spa",
        "timezone": "America/New_York",
        "display_name": "Lumen Hair & Spa",
        "brand_color": "#7c3aed",
        "accent_color": "#f59e0b",
        "default_referral_source_id": "5d0c3e5a-8a0f-4d57-9d1f-000000000001",
        "default_referral_source_label": "Website",
        "referral_source_required": True,
        # (Zenoti id, name, time zone, days the key stays valid, guests pay online)
        "centers": [
            ("0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a01", "Lumen SoHo", "America/New_York", 300, False),
            (
                "0f1a5c52-2a35-4b1c-9a37-6a1d1e4f0a02",
                "Lumen Santa Monica",
                "America/Los_Angeles",
                300,
                True,
            ),
        ],
        "rules": [
            (
                "utm_source",
                "equals",
                "google",
                "5d0c3e5a-8a0f-4d57-9d1f-000000000002",
                "Google Ads",
            ),
            (
                "click_network",
                "equals",
                "meta",
                "5d0c3e5a-8a0f-4d57-9d1f-000000000003",
                "Facebook & Instagram",
            ),
            (
                "utm_source",
                "contains",
                "insta",
                "5d0c3e5a-8a0f-4d57-9d1f-000000000003",
                "Facebook & Instagram",
            ),
            (
                "referrer_domain",
                "contains",
                "yelp.com",
                "5d0c3e5a-8a0f-4d57-9d1f-000000000004",
                "Yelp",
            ),
        ],
    },
    {
        "slug": "willow",
        "name": "Willow Med Spa",
        "timezone": "America/Chicago",
        "display_name": "",
        "brand_color": "#0f766e",
        "accent_color": "#e11d48",
        "default_referral_source_id": "",
        "default_referral_source_label": "",
        "referral_source_required": False,
        # Key expiring soon: shows the renewal banner in the demo.
        "centers": [
            ("7b2e9d10-5c44-4f0e-8d6b-3c2a1b0e9f01", "Willow Uptown", "America/Chicago", 21, False)
        ],
        "rules": [],
    },
]


def seed_widget(organization):
    """The demo widget: inline, every center, embeddable by this deployment's own pages (the
    sandbox's example host page)."""
    site = urlsplit(settings.SITE_URL)
    widget, _ = Widget.objects.update_or_create(
        code=DEMO_WIDGET_CODE,
        defaults={
            "organization": organization,
            "name": "Website booking",
            "mode": Widget.Mode.INLINE,
            "allowed_origins": [f"{site.scheme}://{site.netloc}".lower()],
            "enabled": True,
        },
    )
    widget.centers.clear()  # none named: every enabled center
    return widget


def seed_webhook_endpoint(organization):
    """A webhook endpoint pointing at the sandbox's receiver, which checks every signature:
    booking through the demo shows signed deliveries arriving."""
    url = f"{settings.SITE_URL}/sandbox/receiver/"
    endpoint = WebhookEndpoint.objects.filter(organization=organization, url=url).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(organization=organization, url=url)
    endpoint.description = "Sandbox receiver (demo)"
    endpoint.event_types = list(WebhookEventType.values)
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.save()
    return endpoint


class Command(BaseCommand):
    help = "Create (or refresh) the demo agency, organizations and users; prints how to sign in."

    @transaction.atomic
    def handle(self, *args, **options):
        if not (settings.DEBUG or settings.SANDBOX_ENABLED):
            # Demo users share a published password: never on a production deployment.
            raise CommandError("seed_demo runs only with DEBUG=1 or SANDBOX_ENABLED=1.")
        if settings.SANDBOX_ENABLED:
            from sandbox.demo import load_demo

            load_demo()
        agency, _ = Agency.objects.update_or_create(
            slug="glow-growth", defaults={"name": "Glow Growth Agency"}
        )
        organizations = {}
        for spec in ORGANIZATIONS:
            spec = dict(spec)
            centers, rules = spec.pop("centers"), spec.pop("rules")
            org, _ = Organization.objects.update_or_create(
                slug=spec.pop("slug"), defaults={**spec, "agency": agency}
            )
            organizations[org.slug] = org
            today = timezone.localdate()
            for zenoti_id, name, tz, key_days, payment_required in centers:
                center = Center.objects.filter(organization=org, zenoti_center_id=zenoti_id).first()
                if center is None:
                    center = Center(organization=org, zenoti_center_id=zenoti_id)
                center.name, center.timezone = name, tz
                center.api_base_url = sandbox_api_url()
                center.api_key = SANDBOX_KEYS[org.slug]
                center.api_key_expires_on = today + timedelta(days=key_days)
                center.payment_required = payment_required
                center.save()
            for position, (field, operator, value, source_id, label) in enumerate(rules):
                ReferralRule.objects.update_or_create(
                    organization=org,
                    field=field,
                    operator=operator,
                    value=value,
                    defaults={
                        "position": position,
                        "referral_source_id": source_id,
                        "label": label,
                    },
                )

        widget = seed_widget(organizations["lumen"])
        if settings.SANDBOX_ENABLED:
            seed_webhook_endpoint(organizations["lumen"])

        for email, name, org_slug, role in USERS:
            user = User.objects.filter(email=email).first() or User(email=email)
            user.full_name = name
            user.set_password(DEMO_PASSWORD)
            user.save()
            if org_slug is None:
                AgencyMembership.objects.get_or_create(agency=agency, user=user)
            else:
                Membership.objects.update_or_create(
                    organization=organizations[org_slug], user=user, defaults={"role": role}
                )

        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these:"))
        for email, _name, org_slug, role in USERS:
            what = (
                f"{role.label.lower()} of {organizations[org_slug].name}"
                if role
                else (f"member of {agency.name} (reaches every client organization)")
            )
            self.stdout.write(f"  {email:<26} {DEMO_PASSWORD}   {what}")
        self.stdout.write(
            f"Booking page of the demo widget: {settings.SITE_URL}/b/lumen/{widget.code}/"
        )
        if settings.SANDBOX_ENABLED:
            self.stdout.write(f"Example site embedding it: {settings.SITE_URL}/sandbox/host/")
            self.stdout.write(f"Demo centers call the Zenoti sandbox at {sandbox_api_url()}.")
            self.stdout.write(
                f"Lumen's webhooks go to the sandbox receiver: {settings.SITE_URL}/sandbox/receiver/"
            )
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"SANDBOX_ENABLED is off: the demo centers point at {sandbox_api_url()}, "
                    "which answers only when the sandbox is on."
                )
            )
