"""Forms of the organization settings page: branding, referral-source defaults, a referral
rule, and the "test a visit" box."""

from urllib.parse import urlsplit

from django import forms

from attribution.sources import CLICK_ID_NETWORKS, domain_of
from tenants.forms.fields import GUID_RE, TimezoneField
from tenants.models import ReferralRule, color_validator

GUID_EXAMPLE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CLICK_NETWORKS = sorted(set(CLICK_ID_NETWORKS.values()))
NO_AUTOCORRECT = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}


def clean_guid(value):
    """A Zenoti ID (a GUID), lower-cased; braces and spaces around it are forgiven."""
    guid = value.strip().strip("{}").strip().lower()
    if not GUID_RE.match(guid):
        raise forms.ValidationError(
            f"Zenoti referral source IDs are GUIDs like {GUID_EXAMPLE}: 32 letters and digits "
            "in groups of 8-4-4-4-12."
        )
    return guid


class ColorInput(forms.TextInput):
    input_type = "color"


class ColorField(forms.CharField):
    """A #rrggbb color, stored lower-case."""

    default_validators = [color_validator]

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 7)
        kwargs.setdefault("widget", ColorInput)
        super().__init__(**kwargs)

    def to_python(self, value):
        return super().to_python(value).lower()


class BrandingForm(forms.Form):
    display_name = forms.CharField(
        label="Name shown to guests",
        max_length=120,
        required=False,
        help_text="Leave empty to use your organization name.",
    )
    logo_url = forms.URLField(
        label="Logo address",
        max_length=200,
        required=False,
        assume_scheme="https",
        help_text="An https:// address of your logo (PNG or SVG, about 200×60).",
        widget=forms.URLInput(attrs={**NO_AUTOCORRECT, "placeholder": "https://"}),
        error_messages={"invalid": "Enter the full address of your logo image."},
    )
    brand_color = ColorField(label="Brand color", help_text="Header and main buttons.")
    accent_color = ColorField(label="Accent color", help_text="Highlights and badges.")
    button_radius = forms.IntegerField(
        label="Button corners",
        min_value=0,
        max_value=28,
        help_text="Rounding in pixels: 0 is square, 28 is a pill.",
        error_messages={
            "invalid": "Enter a whole number of pixels from 0 to 28.",
            "min_value": "Enter a whole number of pixels from 0 to 28.",
            "max_value": "Enter a whole number of pixels from 0 to 28.",
        },
    )
    timezone = TimezoneField(
        label="Organization time zone", help_text="Used for reports and booking emails."
    )

    def __init__(self, *args, org_name="", **kwargs):
        super().__init__(*args, **kwargs)
        if org_name:
            self.fields["display_name"].widget.attrs["placeholder"] = org_name

    def clean_display_name(self):
        return self.cleaned_data["display_name"].strip()

    def clean_logo_url(self):
        url = self.cleaned_data["logo_url"]
        if url and urlsplit(url).scheme != "https":
            raise forms.ValidationError(
                "Use an https:// address: browsers block plain http images on secure pages."
            )
        return url


class ReferralDefaultsForm(forms.Form):
    default_referral_source_id = forms.CharField(
        label="Default referral source ID",
        max_length=64,
        required=False,
        help_text=f"Used when no rule matches. A GUID from Zenoti, like {GUID_EXAMPLE}.",
        widget=forms.TextInput(attrs={**NO_AUTOCORRECT, "placeholder": GUID_EXAMPLE}),
    )
    default_referral_source_label = forms.CharField(
        label="Its name",
        max_length=80,
        required=False,
        help_text="As it is called in Zenoti, e.g. “Website”.",
    )
    referral_source_required = forms.BooleanField(
        label="Our Zenoti organization requires a referral source for new guests",
        required=False,
        help_text="Zenoti then refuses to create a guest without one, so a default is needed.",
    )

    def clean_default_referral_source_id(self):
        value = self.cleaned_data["default_referral_source_id"]
        return clean_guid(value) if value.strip() else ""

    def clean_default_referral_source_label(self):
        return self.cleaned_data["default_referral_source_label"].strip()

    def clean(self):
        data = super().clean()
        if "default_referral_source_id" not in data or data["default_referral_source_id"]:
            return data
        if data.get("referral_source_required"):
            self.add_error(
                "default_referral_source_id",
                "Your Zenoti organization requires a referral source, so set a default for "
                "visits that match no rule — otherwise those guests cannot be created.",
            )
        elif data.get("default_referral_source_label"):
            self.add_error("default_referral_source_id", "Enter the ID this name belongs to.")
        return data


class ReferralRuleForm(forms.Form):
    field = forms.ChoiceField(label="When", choices=ReferralRule.Field.choices)
    operator = forms.ChoiceField(label="Operator", choices=ReferralRule.Operator.choices)
    value = forms.CharField(
        label="Value",
        max_length=200,
        help_text="Case does not matter.",
        widget=forms.TextInput(attrs={**NO_AUTOCORRECT, "placeholder": "google"}),
        error_messages={"required": "Enter the value to look for, such as google."},
    )
    referral_source_id = forms.CharField(
        label="Zenoti referral source ID",
        max_length=64,
        widget=forms.TextInput(attrs={**NO_AUTOCORRECT, "placeholder": GUID_EXAMPLE}),
        error_messages={"required": "Paste the referral source's ID from Zenoti."},
    )
    label = forms.CharField(
        label="Referral source name",
        max_length=80,
        required=False,
        help_text="As it is called in Zenoti, e.g. “Google Ads”.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "rule_%s")
        super().__init__(*args, **kwargs)

    def clean_referral_source_id(self):
        return clean_guid(self.cleaned_data["referral_source_id"])

    def clean_label(self):
        return self.cleaned_data["label"].strip()

    def clean(self):
        data = super().clean()
        field, operator, value = data.get("field"), data.get("operator"), data.get("value")
        if not (field and operator and value):
            return data
        if field == ReferralRule.Field.REFERRER_DOMAIN:
            # Visits are compared by bare host name, without www.: normalize what was pasted.
            try:
                value = domain_of(value if "//" in value else f"//{value}") or value.lower()
            except ValueError:  # e.g. an unbalanced [ in the host
                self.add_error("value", "Enter a domain such as instagram.com.")
                return data
        elif field == ReferralRule.Field.CLICK_NETWORK:
            value = value.lower()
            known = (
                value in CLICK_NETWORKS
                if operator == "equals"
                else any(value in network for network in CLICK_NETWORKS)
            )
            if not known:
                self.add_error(
                    "value",
                    f"No ad click ID belongs to “{value}”. "
                    f"Use one of: {', '.join(CLICK_NETWORKS)}.",
                )
                return data
        data["value"] = value
        return data


class VisitTestForm(forms.Form):
    landing_url = forms.URLField(
        label="Landing page address",
        max_length=2000,
        assume_scheme="https",
        help_text="The full address the guest arrived at, with its ?utm_… and click ID.",
        widget=forms.URLInput(
            attrs={**NO_AUTOCORRECT, "placeholder": "https://yoursalon.com/book?utm_source=google"}
        ),
        error_messages={
            "required": "Paste the address the guest landed on.",
            "invalid": "That is not a web address. Paste one like "
            "https://yoursalon.com/book?utm_source=google.",
        },
    )
    referrer = forms.URLField(
        label="Came from",
        max_length=2000,
        required=False,
        assume_scheme="https",
        help_text="The page that linked to you, e.g. https://www.instagram.com/.",
        widget=forms.URLInput(attrs=NO_AUTOCORRECT),
        error_messages={
            "invalid": "That is not a web address. Paste one like https://www.instagram.com/."
        },
    )
