"""Forms of the sandbox pages: fault knobs and rate limit (admin page), card entry (payment page)."""

import re
from datetime import date

from django import forms

from sandbox import clock

SHARES = [
    ("error_rate", "5xx answers", "A JSON 500 or a proxy's HTML 502/503 page."),
    (
        "hang_rate",
        "Hangs",
        "The answer comes after the hang length below: past the client's timeout.",
    ),
    ("rate_limited_rate", "Forced 429s", "On top of the real rate limit; no token is spent."),
    (
        "steal_rate",
        "Slot stolen before reserve",
        "Another guest books the time first; reserve gets 4072.",
    ),
    (
        "lose_response_rate",
        "Lost answers to writes",
        "The write is committed, then the answer never comes.",
    ),
]


def _plain(number):
    """15.0 -> 15, so whole numbers do not show a decimal point."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _share_field(label, help_text):
    return forms.FloatField(
        label=f"{label} (%)",
        min_value=0,
        max_value=100,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={
            "min_value": "Enter a share from 0 to 100.",
            "max_value": "Enter a share from 0 to 100.",
            "invalid": "Enter a number from 0 to 100.",
        },
    )


class FaultsForm(forms.Form):
    """Shares are shown in percent and cleaned to the 0–1 probabilities the model stores."""

    latency_ms = forms.IntegerField(
        label="Added latency (ms)", min_value=0, max_value=60_000, help_text="On every answer."
    )
    error_rate = _share_field(*SHARES[0][1:])
    hang_rate = _share_field(*SHARES[1][1:])
    hang_seconds = forms.FloatField(
        label="Hang length (seconds)",
        min_value=0,
        max_value=300,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    rate_limited_rate = _share_field(*SHARES[2][1:])
    steal_rate = _share_field(*SHARES[3][1:])
    lose_response_rate = _share_field(*SHARES[4][1:])
    fault_seed = forms.IntegerField(
        label="Random seed",
        min_value=-(2**31),
        max_value=2**31 - 1,
        help_text="The same seed gives the same faults on the same requests.",
    )
    business_errors_as_200 = forms.BooleanField(
        label="Answer business errors (4072, 460, 728, 502, 503) with HTTP 200", required=False
    )
    referral_required = forms.BooleanField(
        label="Guest creation requires a referral source", required=False
    )

    @classmethod
    def for_organization(cls, org, data=None):
        initial = {name: _plain(getattr(org, name)) for name in cls.base_fields}
        for name, *_ in SHARES:
            initial[name] = _plain(round(getattr(org, name) * 100, 4))
        return cls(data, initial=initial)

    def _share(self, name):
        return self.cleaned_data[name] / 100

    def clean_error_rate(self):
        return self._share("error_rate")

    def clean_hang_rate(self):
        return self._share("hang_rate")

    def clean_rate_limited_rate(self):
        return self._share("rate_limited_rate")

    def clean_steal_rate(self):
        return self._share("steal_rate")

    def clean_lose_response_rate(self):
        return self._share("lose_response_rate")


class RateLimitForm(forms.Form):
    rate_limit = forms.IntegerField(
        label="Calls per window", min_value=1, max_value=100_000, help_text="Zenoti: 60."
    )
    rate_window_seconds = forms.IntegerField(
        label="Window (seconds)", min_value=1, max_value=86_400, help_text="Zenoti: 60."
    )
    rate_burst = forms.IntegerField(
        label="Bucket size", min_value=1, max_value=100_000, help_text="Zenoti: 60."
    )

    @classmethod
    def for_organization(cls, org, data=None):
        return cls(data, initial={name: getattr(org, name) for name in cls.base_fields})


class CardForm(forms.Form):
    card_number = forms.CharField(
        label="Card number",
        max_length=30,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "cc-number",
                "inputmode": "numeric",
                "placeholder": "1234 1234 1234 1234",
                "spellcheck": "false",
            }
        ),
        error_messages={"required": "Enter your card number."},
    )
    expiry = forms.CharField(
        label="Expiry",
        max_length=7,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM / YY"}
        ),
        error_messages={"required": "Enter the expiry date."},
    )
    cvc = forms.CharField(
        label="Security code",
        max_length=4,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "CVC"}
        ),
        error_messages={"required": "Enter the security code."},
    )

    def clean_card_number(self):
        digits = re.sub(r"[\s-]", "", self.cleaned_data["card_number"])
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Your card number is incomplete.")
        if not _luhn_ok(digits):
            raise forms.ValidationError("Your card number is invalid.")
        return digits

    def clean_expiry(self):
        match = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry date as MM / YY.")
        year = int(match[2]) % 100 + 2000
        expires = date(year, int(match[1]), 1)
        today = clock.now().date()
        if (expires.year, expires.month) < (today.year, today.month):
            raise forms.ValidationError("Your card has expired.")
        return expires

    def clean_cvc(self):
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError("Your security code is incomplete.")
        return cvc


def _luhn_ok(digits):
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
