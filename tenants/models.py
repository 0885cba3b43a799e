"""Tenancy: users, agencies, organizations (the tenants), memberships, invitations,
Zenoti centers with encrypted keys, referral-source rules and the audit log."""

import hashlib
import secrets
import zoneinfo
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from tenants.crypto import EncryptedTextField

ZENOTI_API_URL = "https://api.zenoti.com/v1"
KEY_EXPIRY_WARNING_DAYS = 30


def random_code(length=10):
    """A short URL-safe public identifier (letters and digits only)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def readable_text_color(color):
    """White or near-black, whichever reads better on the #rrggbb background."""
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    channels = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return "#1b1e2b" if luminance > 0.4 else "#ffffff"


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a time zone name such as America/New_York.")


color_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", "Enter a color as # followed by six hex digits, like #7c3aed."
)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"

    @property
    def rank(self):
        return {"viewer": 1, "manager": 2, "owner": 3}[self.value]

    def at_least(self, other):
        return self.rank >= Role(other).rank


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: salon staff, agency staff or platform staff. Guests are not users."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Agency(models.Model):
    """A marketing agency that oversees many client organizations."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self):
        return self.name


class AgencyMembership(models.Model):
    """Agency staff reach every organization of their agency, as managers."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agency_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="agency_membership_unique")
        ]

    def __str__(self):
        return f"{self.user} @ {self.agency}"


class Organization(models.Model):
    """The tenant: one salon business, holding its Zenoti centers and its settings."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_timezone]
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="organizations"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Branding of guest-facing pages.
    display_name = models.CharField(max_length=120, blank=True)
    logo_url = models.URLField(
        blank=True, help_text="An https:// address of your logo (PNG or SVG, about 200×60)."
    )
    brand_color = models.CharField(max_length=7, default="#7c3aed", validators=[color_validator])
    accent_color = models.CharField(max_length=7, default="#f59e0b", validators=[color_validator])
    button_radius = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(28)], help_text="Corner rounding in pixels."
    )

    # Referral source sent to Zenoti when a guest is created.
    default_referral_source_id = models.CharField(max_length=64, blank=True)
    default_referral_source_label = models.CharField(max_length=80, blank=True)
    referral_source_required = models.BooleanField(
        default=False,
        help_text="Our Zenoti organization refuses new guests without a referral source.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def public_name(self):
        return self.display_name or self.name

    @classmethod
    def unique_slug_for(cls, name):
        base = slugify(name)[:50] or "salon"
        slug, n = base, 2
        while cls.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    code = models.CharField(max_length=16, unique=True, default=random_code)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")
        ]

    def __str__(self):
        return f"{self.user} — {self.role} of {self.organization}"


def _invitation_expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_DAYS)


class Invitation(models.Model):
    """A single-use, expiring invitation to join an organization with a role.

    Only a hash of the token is stored: the link in the email is the only copy.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    code = models.CharField(max_length=16, unique=True, default=random_code)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organization}"

    @staticmethod
    def new_token():
        return secrets.token_urlsafe(32)

    @staticmethod
    def hash_token(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self):
        return timezone.now() >= self.expires_at

    @property
    def is_pending(self):
        return self.accepted_at is None and not self.is_expired


class CenterQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def key_expiring(self, today=None):
        """Enabled centers whose key expires within the warning window (or already has)."""
        today = today or timezone.localdate()
        return self.enabled().filter(
            api_key_expires_on__isnull=False,
            api_key_expires_on__lte=today + timedelta(days=KEY_EXPIRY_WARNING_DAYS),
        )


class Center(models.Model):
    """A Zenoti center of an organization, with its own (encrypted) API key."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="centers")
    code = models.CharField(max_length=16, unique=True, default=random_code)
    zenoti_center_id = models.CharField(
        "Zenoti center ID",
        max_length=64,
        validators=[
            RegexValidator(
                r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                "A Zenoti center ID looks like 3fa85f64-5717-4562-b3fc-2c963f66afa6.",
            )
        ],
    )
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    api_base_url = models.URLField("API base URL", default=ZENOTI_API_URL)
    api_key = EncryptedTextField()
    api_key_expires_on = models.DateField("key expires on", null=True, blank=True)
    # The center's policy: guests pay online (Zenoti's hosted payment page) before the booking
    # is confirmed. Zenoti answers 438 when online payment is not enabled for the center.
    payment_required = models.BooleanField(
        "guests pay online when booking",
        default=False,
        help_text="Online payment must be enabled for this center in Zenoti.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CenterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # One Zenoti center is connected once per organization.
            models.UniqueConstraint(
                fields=["organization", "zenoti_center_id"], name="center_zenoti_id_unique"
            )
        ]

    def __str__(self):
        return self.name

    def __repr__(self):
        # Never let the key reach a log line or an error report through repr().
        return f"<Center {self.code} {self.name!r}>"

    @property
    def masked_api_key(self):
        return f"••••{self.api_key[-4:]}" if self.api_key else ""

    @property
    def api_host(self):
        return urlsplit(self.api_base_url).netloc

    def key_days_left(self, today=None):
        if self.api_key_expires_on is None:
            return None
        return (self.api_key_expires_on - (today or timezone.localdate())).days


class ReferralRule(models.Model):
    """“When <field> <equals|contains> <value>, send Zenoti referral source <id>.”

    Rules are tried in `position` order; the first match wins.
    """

    class Field(models.TextChoices):
        UTM_SOURCE = "utm_source", "utm_source"
        UTM_MEDIUM = "utm_medium", "utm_medium"
        UTM_CAMPAIGN = "utm_campaign", "utm_campaign"
        CLICK_NETWORK = "click_network", "click-ID network"
        REFERRER_DOMAIN = "referrer_domain", "referrer domain"

    class Operator(models.TextChoices):
        EQUALS = "equals", "equals"
        CONTAINS = "contains", "contains"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="referral_rules"
    )
    code = models.CharField(max_length=16, unique=True, default=random_code)
    position = models.PositiveIntegerField(default=0)
    field = models.CharField(max_length=20, choices=Field.choices)
    operator = models.CharField(max_length=10, choices=Operator.choices, default=Operator.EQUALS)
    value = models.CharField(max_length=200)
    referral_source_id = models.CharField("Zenoti referral source ID", max_length=64)
    label = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # Rules are always read as "this organization's, in order".
            models.Index(fields=["organization", "position"], name="referralrule_org_position")
        ]

    def __str__(self):
        return f"{self.get_field_display()} {self.operator} {self.value} → {self.label or self.referral_source_id}"

    def matches(self, visit):
        """`visit` maps each Field value to the visit's (lower-cased) value or ''."""
        actual = (visit.get(self.field) or "").lower()
        wanted = self.value.strip().lower()
        if not actual or not wanted:
            return False
        if self.operator == self.Operator.EQUALS:
            return actual == wanted
        return wanted in actual


class AuditLog(models.Model):
    """Who changed what, when, in which organization."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_log"
    )
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page: one organization's newest entries first.
            models.Index(fields=["organization", "-created_at"], name="auditlog_org_recent")
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"

    @property
    def description(self):
        """ "center.key_replaced" reads as "center key replaced"."""
        return self.action.replace(".", " ").replace("_", " ")
