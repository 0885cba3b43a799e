"""The form that connects a Zenoti center: its ID, time zone, API address and (write-only) key."""

from datetime import timedelta
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils import timezone

from tenants.forms.fields import GUID_RE, TimezoneField
from tenants.models import KEY_EXPIRY_WARNING_DAYS, ZENOTI_API_URL, Center

# Plain http is only for a sandbox on the developer's own machine.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
KEY_VALID_DAYS = 365


def is_zenoti_host(hostname):
    hostname = hostname.lower().rstrip(".")
    return hostname == "zenoti.com" or hostname.endswith(".zenoti.com")


class CenterForm(forms.Form):
    """Add (center=None) or edit a center of `organization`.

    The API key is write-only: it is never rendered back, and on edit a blank key keeps
    the current one.
    """

    name = forms.CharField(
        label="Center name",
        max_length=120,
        help_text="How your team and guests know this location, e.g. “Lumen Downtown”.",
        error_messages={"required": "Enter a name for this center."},
    )
    zenoti_center_id = forms.CharField(
        label="Zenoti center ID",
        max_length=64,
        help_text="Shown for this center in your Zenoti admin; it looks like "
        "3fa85f64-5717-4562-b3fc-2c963f66afa6.",
        error_messages={"required": "Enter the Zenoti center ID."},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    timezone = TimezoneField(help_text="The center's local time: Zenoti's times are in it.")
    api_base_url = forms.CharField(
        label="API base URL",
        max_length=200,
        initial=ZENOTI_API_URL,
        help_text=f"Leave as {ZENOTI_API_URL} unless Zenoti gave you another address.",
        error_messages={"required": f"Enter the API address, normally {ZENOTI_API_URL}"},
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    api_key = forms.CharField(
        label="API key",
        max_length=512,
        strip=True,
        error_messages={"required": "Paste the API key from Zenoti."},
        widget=forms.PasswordInput(
            render_value=False,
            # "new-password" stops browsers from filling in the member's own password.
            attrs={"autocomplete": "new-password", "spellcheck": "false"},
        ),
    )
    api_key_expires_on = forms.DateField(
        label="Key expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Zenoti keys are valid for one year from when you create them. We warn you "
        f"{KEY_EXPIRY_WARNING_DAYS} days before.",
        error_messages={"invalid": "Enter a date such as 2026-12-31."},
    )
    payment_required = forms.BooleanField(
        label="Guests pay online when they book",
        required=False,
        help_text="The booking is confirmed once Zenoti's payment page takes the payment. Online "
        "payment must be turned on for this center in Zenoti.",
    )
    enabled = forms.BooleanField(
        label="Enabled — take bookings for this center",
        required=False,
        initial=True,
    )

    def __init__(self, *args, organization, center=None, **kwargs):
        self.organization = organization
        self.center = center
        if center is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": center.name,
                    "zenoti_center_id": center.zenoti_center_id,
                    "timezone": center.timezone,
                    "api_base_url": center.api_base_url,
                    "api_key_expires_on": center.api_key_expires_on,
                    "payment_required": center.payment_required,
                    "enabled": center.enabled,
                },
            )
        else:
            kwargs.setdefault(
                "initial",
                {
                    "timezone": organization.timezone,
                    "api_key_expires_on": timezone.localdate() + timedelta(days=KEY_VALID_DAYS),
                },
            )
        super().__init__(*args, **kwargs)
        key = self.fields["api_key"]
        if center is None:
            key.help_text = (
                "Create it on the Apps page of your Zenoti admin. We store it encrypted and "
                "never show it again."
            )
        else:
            key.required = False
            key.label = "Replace API key"
            key.help_text = (
                f"Current key: {center.masked_api_key}. Leave empty to keep it; paste a new key "
                "to replace it."
            )

    def clean_zenoti_center_id(self):
        value = self.cleaned_data["zenoti_center_id"].strip().strip("{}").lower()
        if not GUID_RE.match(value):
            raise forms.ValidationError(
                "That is not a Zenoti center ID. It has 36 characters, like "
                "3fa85f64-5717-4562-b3fc-2c963f66afa6."
            )
        # Zenoti compares IDs case-insensitively, so do we.
        taken = Center.objects.filter(
            organization=self.organization, zenoti_center_id__iexact=value
        )
        if self.center is not None:
            taken = taken.exclude(pk=self.center.pk)
        if taken.exists():
            raise forms.ValidationError(
                f"This Zenoti center is already connected as “{taken.first().name}”."
            )
        return value

    def clean_api_base_url(self):
        value = self.cleaned_data["api_base_url"].strip().rstrip("/")
        try:
            parts = urlsplit(value)
            hostname = parts.hostname or ""
            parts.port  # noqa: B018 — raises ValueError for a port that is not a number
        except ValueError:
            raise forms.ValidationError("Enter a web address such as " + ZENOTI_API_URL) from None
        if not hostname or parts.scheme not in ("https", "http"):
            raise forms.ValidationError(
                "Enter the full address, starting with https://, such as " + ZENOTI_API_URL
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise forms.ValidationError(
                "Enter only the address, without a user name, “?…” or “#…” part."
            )
        if parts.scheme == "http" and not (settings.DEBUG and hostname in LOCAL_HOSTS):
            raise forms.ValidationError(
                "The address must start with https:// so the API key travels encrypted."
            )
        if not (settings.DEBUG or settings.SANDBOX_ENABLED or is_zenoti_host(hostname)):
            # The server calls this address (Test connection shows what it answered): only
            # Zenoti's own hosts, so it cannot be aimed at our internal network.
            raise forms.ValidationError(
                "Chairfill connects only to Zenoti's API, on a zenoti.com address such as "
                + ZENOTI_API_URL
            )
        return value

    def clean_api_key(self):
        value = self.cleaned_data["api_key"]
        # People often copy the whole header value ("apikey 1a2b…") from Zenoti's docs.
        if value.lower().startswith("apikey "):
            value = value[len("apikey ") :].strip()
        if not value:
            if self.center is None:
                raise forms.ValidationError("Paste the API key from Zenoti.")
            return ""
        if any(char.isspace() for char in value):
            raise forms.ValidationError(
                "An API key has no spaces or line breaks. Copy it again from Zenoti."
            )
        if len(value) < 8:
            raise forms.ValidationError("That key is too short. Copy the whole key from Zenoti.")
        return value

    def clean(self):
        cleaned = super().clean()
        if "api_key_expires_on" not in cleaned:
            return cleaned
        expires = cleaned["api_key_expires_on"]
        today = timezone.localdate()
        current = self.center.api_key_expires_on if self.center else None
        new_key = bool(cleaned.get("api_key")) and self.center is not None
        if expires is None:
            return cleaned
        if expires < today and (expires != current or new_key):
            self.add_error(
                "api_key_expires_on",
                "That date has passed. Enter the date this key stops working (a year after "
                "you created it in Zenoti), or leave it empty.",
            )
        elif expires > today + timedelta(days=5 * KEY_VALID_DAYS):
            self.add_error(
                "api_key_expires_on", "Check the year: Zenoti keys are valid for one year."
            )
        elif (
            new_key
            and expires == current
            and expires <= today + timedelta(days=KEY_EXPIRY_WARNING_DAYS)
        ):
            # The usual way to end up here: the banner said "replace the key", the member
            # pasted the new key and kept the old key's date, so the banner would stay.
            self.add_error(
                "api_key_expires_on",
                "This is the old key's expiry date. Enter the new key's date (a year after "
                "you created it in Zenoti), or leave it empty.",
            )
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # The password input is never re-filled, so say why the key box is empty again.
        if self.errors and self.cleaned_data.get("api_key"):
            again = "Paste the key again: for safety we never send it back to your browser."
            self["api_key"].help_text = again

    def center_fields(self):
        """The cleaned values that are model fields, without the key."""
        names = ["name", "zenoti_center_id", "timezone", "api_base_url", "api_key_expires_on"]
        return {name: self.cleaned_data[name] for name in [*names, "payment_required", "enabled"]}
