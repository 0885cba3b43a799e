"""Forms of the booking app: the owner's widget form, the guest's details in the funnel."""

import functools
import zoneinfo
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import phonenumbers
from django import forms
from django.db.models import Q

from booking import catalog
from booking.models import Widget
from booking.zenoti.errors import ZenotiError
from tenants.forms.settings import ColorField
from tenants.models import Center

# Plain http is only for a site on the owner's (or developer's) own machine.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_ORIGINS = 20
NO_AUTOCORRECT = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}


def normalize_origin(value):
    """An embedding site's address as the browser names it in frame-ancestors and postMessage:
    scheme://host[:port], lower-case, without a default port. A bare host gets https://."""
    text = value.strip()
    if "*" in text:
        raise forms.ValidationError(
            f"{text}: wildcards aren't allowed. List each address, such as "
            "https://salon.example and https://www.salon.example."
        )
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        raise forms.ValidationError(f"{value.strip()}: that is not a web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host or " " in host:
        raise forms.ValidationError(
            f"{value.strip()}: enter a web address such as https://salon.example."
        )
    if parts.username is not None or parts.password is not None:
        raise forms.ValidationError(f"{value.strip()}: leave out the user name and password.")
    if ":" in host:  # an IPv6 address: urlsplit drops its brackets
        host = f"[{host}]"
    else:
        try:
            # Browsers name international domains in their ASCII (punycode) form.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise forms.ValidationError(f"{value.strip()}: that is not a valid domain.") from None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    origin = f"{scheme}://{netloc}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise forms.ValidationError(
            f"{value.strip()}: enter only the site's address, without a page path or “?…” — "
            f"{origin} covers every page of the site."
        )
    if scheme == "http" and host not in LOCAL_HOSTS:
        raise forms.ValidationError(
            f"{value.strip()}: use https://{netloc}. Plain http:// works only for localhost "
            "while you test."
        )
    return origin


def clean_https_url(url, what):
    """An https:// address (plain http only for localhost, while testing)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        return url
    raise forms.ValidationError(f"Use an https:// address for {what}.")


@dataclass
class MenuGroup:
    """One category of the service menu offered in the form."""

    id: str
    name: str
    services: list = field(default_factory=list)
    checked: bool = False
    picked: int = 0  # services ticked one by one


class WidgetForm(forms.Form):
    """Create (widget=None) or edit a widget of `organization`.

    The service checkboxes come from the catalog of the chosen centers (every enabled center
    when none is chosen). When Zenoti cannot be reached, or `load_menu` is False (the live
    preview), those fields are left out and the widget keeps its current selection.
    """

    name = forms.CharField(
        label="Widget name",
        max_length=80,
        help_text="For your team only, e.g. “Website” or “Instagram bio”.",
        error_messages={"required": "Give the widget a name, such as “Website”."},
    )
    enabled = forms.BooleanField(
        label="Enabled — guests can book through this widget",
        required=False,
        initial=True,
        help_text="When off, its page and embeds tell guests online booking is unavailable.",
    )
    centers = forms.MultipleChoiceField(
        label="Centers",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to offer every enabled center, including ones you "
        "connect later. With more than one, guests choose a center first.",
        error_messages={"invalid_choice": "Choose centers from the list."},
    )
    category_ids = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose categories from the list."},
    )
    service_ids = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose services from the list."},
    )
    allow_provider_choice = forms.BooleanField(
        label="Guests may pick their stylist or therapist",
        required=False,
        initial=True,
        help_text="Otherwise the first free provider is booked.",
    )
    mode = forms.ChoiceField(
        label="Shown on your site as",
        choices=Widget.Mode.choices,
        initial=Widget.Mode.INLINE,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose how the widget is shown."},
    )
    custom_colors = forms.BooleanField(
        label="Use different colors for this widget",
        required=False,
        help_text="Otherwise it uses your organization's branding.",
    )
    brand_color = ColorField(label="Brand color", required=False, help_text="Header and buttons.")
    accent_color = ColorField(label="Accent color", required=False, help_text="Highlights.")
    logo_url = forms.URLField(
        label="Logo address",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="An https:// address of a PNG or SVG. Leave empty for your organization's logo.",
        widget=forms.URLInput(attrs={**NO_AUTOCORRECT, "placeholder": "https://"}),
        error_messages={"invalid": "Enter the full address of the logo image."},
    )
    headline = forms.CharField(
        label="Headline",
        max_length=120,
        required=False,
        help_text="Above the service list, e.g. “Book your visit”.",
    )
    button_text = forms.CharField(
        label="Button text",
        max_length=40,
        initial="Book now",
        help_text="On the popup button and the main booking button.",
        error_messages={"required": "Enter the button's text, such as “Book now”."},
    )
    thank_you_text = forms.CharField(
        label="Thank-you message",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the confirmation, e.g. parking tips or what to bring.",
    )
    thank_you_url = forms.URLField(
        label="Thank-you page",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="After booking, send guests to this page of your site, for example one with "
        "your ad conversion tags.",
        widget=forms.URLInput(attrs={**NO_AUTOCORRECT, "placeholder": "https://"}),
        error_messages={"invalid": "Enter the full address of the page."},
    )
    allowed_origins = forms.CharField(
        label="Your website addresses",
        required=False,
        widget=forms.Textarea(
            attrs={**NO_AUTOCORRECT, "rows": 3, "placeholder": "https://www.salon.example"}
        ),
        help_text="One per line, like https://www.salon.example. Only these sites may show the "
        "widget; the direct link works everywhere.",
    )

    def __init__(self, *args, organization, widget=None, load_menu=True, **kwargs):
        self.organization = organization
        self.widget = widget
        if widget is not None:
            kwargs.setdefault("initial", self.initial_for(widget))
        super().__init__(*args, **kwargs)
        if widget is None:
            self.fields["brand_color"].initial = organization.brand_color
            self.fields["accent_color"].initial = organization.accent_color
        # Enabled centers, plus any disabled one the widget still names (so saving keeps it).
        offered = Q(enabled=True) | Q(widgets=widget) if widget is not None else Q(enabled=True)
        centers = Center.objects.filter(offered, organization=organization).distinct()
        self.center_list = list(centers.order_by("name"))
        self.fields["centers"].choices = [
            (c.code, c.name if c.enabled else f"{c.name} (disabled: not offered)")
            for c in self.center_list
        ]
        self.menu, self.menu_problem, self.menu_for = [], "", ""
        if load_menu:
            self._load_menu()
        if not load_menu or self.menu_problem:
            del self.fields["category_ids"], self.fields["service_ids"]

    @staticmethod
    def initial_for(widget):
        return {
            "name": widget.name,
            "enabled": widget.enabled,
            "centers": [c.code for c in widget.centers.all()],
            "category_ids": widget.category_ids,
            "service_ids": widget.service_ids,
            "allow_provider_choice": widget.allow_provider_choice,
            "mode": widget.mode,
            "custom_colors": bool(widget.brand_color or widget.accent_color),
            "brand_color": widget.brand,
            "accent_color": widget.accent,
            "logo_url": widget.logo_url,
            "headline": widget.headline,
            "button_text": widget.button_text,
            "thank_you_text": widget.thank_you_text,
            "thank_you_url": widget.thank_you_url,
            "allowed_origins": "\n".join(widget.allowed_origins),
        }

    def color_fields(self):
        return [self["brand_color"], self["accent_color"]]

    # --- The service menu ---

    def menu_centers(self):
        """The centers whose services are offered: those ticked, else every enabled one."""
        codes = set(self["centers"].value() or [])
        chosen = [c for c in self.center_list if c.code in codes and c.enabled]
        return chosen or [c for c in self.center_list if c.enabled]

    def _load_menu(self):
        centers = self.menu_centers()
        self.menu_for = ",".join(sorted(c.code for c in centers))
        groups, seen = {}, set()
        try:
            for center in centers:
                for service in catalog.services(center):
                    if service.id.lower() in seen:
                        continue
                    seen.add(service.id.lower())
                    key = service.category_id or ""
                    if key not in groups:
                        groups[key] = MenuGroup(key, service.category_name or "Other services")
                    groups[key].services.append(service)
        except ZenotiError as exc:
            self.menu_problem = exc.message
            return
        self.menu = list(groups.values())
        self.fields["category_ids"].choices = [(g.id, g.name) for g in self.menu if g.id]
        self.fields["service_ids"].choices = [(s.id, s.name) for g in self.menu for s in g.services]
        categories = {i.lower() for i in self["category_ids"].value() or []}
        services = {i.lower() for i in self["service_ids"].value() or []}
        for group in self.menu:
            group.checked = group.id.lower() in categories if group.id else False
            group.services = [(s, s.id.lower() in services) for s in group.services]
            group.picked = sum(checked for _s, checked in group.services)

    # --- Cleaning: each returns what the model stores ---

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_centers(self):
        codes = set(self.cleaned_data["centers"])
        # The organization is part of the lookup: another organization's code finds nothing.
        centers = list(
            Center.objects.filter(organization=self.organization, code__in=codes).order_by("name")
        )
        if len(centers) != len(codes):
            raise forms.ValidationError("Choose centers from the list.")
        return centers

    def clean_logo_url(self):
        url = self.cleaned_data["logo_url"]
        if url and urlsplit(url).scheme != "https":
            raise forms.ValidationError(
                "Use an https:// address: browsers block plain http images on secure pages."
            )
        return url

    def clean_headline(self):
        return self.cleaned_data["headline"].strip()

    def clean_button_text(self):
        return self.cleaned_data["button_text"].strip()

    def clean_thank_you_text(self):
        return self.cleaned_data["thank_you_text"].strip()

    def clean_thank_you_url(self):
        return clean_https_url(self.cleaned_data["thank_you_url"], "the thank-you page")

    def clean_allowed_origins(self):
        origins, problems = [], []
        for line in self.cleaned_data["allowed_origins"].replace(",", "\n").splitlines():
            if not line.strip():
                continue
            try:
                origin = normalize_origin(line)
            except forms.ValidationError as error:
                problems.extend(error.messages)
                continue
            if origin not in origins:
                origins.append(origin)
        if problems:
            raise forms.ValidationError(problems)
        if len(origins) > MAX_ORIGINS:
            raise forms.ValidationError(
                f"List at most {MAX_ORIGINS} addresses; for more, use the direct link."
            )
        return origins

    def clean(self):
        data = super().clean()
        if data.get("custom_colors"):
            for name in ("brand_color", "accent_color"):
                if name in data and not data[name]:
                    self.add_error(name, "Choose a color.")
        else:
            data["brand_color"] = data["accent_color"] = ""
        if "service_ids" not in self.fields:
            # The menu could not be shown: keep what the widget offers today.
            data["service_ids"] = list(self.widget.service_ids) if self.widget else []
            data["category_ids"] = list(self.widget.category_ids) if self.widget else []
        return data

    def widget_data(self):
        """The cleaned values, as the fields of a Widget (centers: a list of Centers)."""
        names = [
            "name",
            "enabled",
            "centers",
            "service_ids",
            "category_ids",
            "allow_provider_choice",
            "mode",
            "brand_color",
            "accent_color",
            "logo_url",
            "headline",
            "button_text",
            "thank_you_text",
            "thank_you_url",
            "allowed_origins",
        ]
        return {name: self.cleaned_data[name] for name in names}


# --- The guest funnel ----------------------------------------------------------------------


@functools.cache
def _zone_names():
    # available_timezones() walks the zone files on every call: once per process is enough.
    return frozenset(zoneinfo.available_timezones())


class FunnelTimezoneField(forms.CharField):
    """The guest's browser time zone (filled in by static/js/funnel.js): an IANA name, or ""
    for anything else — it only changes how times are explained, never what is booked."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=64, **kwargs)

    def clean(self, value):
        value = (value or "").strip()[:64]
        return value if value in _zone_names() else ""


class DetailsForm(forms.Form):
    """The guest's details in the funnel. `clean_phone` returns E.164 ("+12125550123"):
    a US number may be typed the national way, any other with its +country code."""

    first_name = forms.CharField(
        label="First name",
        max_length=60,
        error_messages={"required": "Please enter your first name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "autocapitalize": "words"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=60,
        error_messages={"required": "Please enter your last name."},
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "autocapitalize": "words"}),
    )
    email = forms.EmailField(
        label="Email",
        max_length=254,
        help_text="We'll send your confirmation here.",
        error_messages={
            "required": "Please enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    phone = forms.CharField(
        label="Mobile phone",
        max_length=32,
        help_text="In case the salon needs to reach you about this visit.",
        error_messages={"required": "Please enter your mobile phone number."},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    marketing_consent = forms.BooleanField(
        label="Yes, I’d like news and offers from the salon. You can unsubscribe at any time.",
        required=False,
    )
    notes = forms.CharField(
        label="Notes for the salon",
        max_length=500,
        required=False,
        error_messages={"max_length": "Please keep your note under 500 characters."},
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    tz = FunnelTimezoneField()

    PHONE_REGION = "US"  # numbers typed without a +country code

    def clean_first_name(self):
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self):
        return " ".join(self.cleaned_data["last_name"].split())

    def clean_email(self):
        return self.cleaned_data["email"].strip()

    def clean_phone(self):
        raw = self.cleaned_data["phone"].strip()
        try:
            number = phonenumbers.parse(raw, self.PHONE_REGION)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(
                "Enter a mobile number like (212) 555-0123, or with its country code, "
                "like +44 7911 123456."
            )
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise forms.ValidationError(
                "That looks like a landline. Please enter a mobile number that can get texts."
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean_notes(self):
        return self.cleaned_data["notes"].strip()

    @classmethod
    def display_phone(cls, phone):
        """An E.164 number the way its owner would write it: (212) 555-0123 at home,
        +44 7911 123456 from abroad."""
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            return phone
        style = phonenumbers.PhoneNumberFormat
        if phonenumbers.region_code_for_number(number) == cls.PHONE_REGION:
            return phonenumbers.format_number(number, style.NATIONAL)
        return phonenumbers.format_number(number, style.INTERNATIONAL)

    @classmethod
    def initial_for(cls, session):
        """What the guest gave before (going back to the step)."""
        phone = cls.display_phone(session.phone) if session.phone else ""
        return {
            "first_name": session.first_name,
            "last_name": session.last_name,
            "email": session.email,
            "phone": phone,
            "marketing_consent": session.marketing_consent,
            "notes": session.notes,
            "tz": session.guest_timezone,
        }
