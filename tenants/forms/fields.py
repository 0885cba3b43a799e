"""Form fields shared by the tenants forms."""

import re
import zoneinfo

from django import forms

# A Zenoti ID, lower-cased (the forms lower-case what is typed before matching).
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Zones most salons on Zenoti use, offered first; every IANA zone is accepted.
COMMON_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
]


def timezone_choices():
    others = sorted(zoneinfo.available_timezones() - set(COMMON_ZONES) - {"localtime"})
    return [
        ("Common", [(zone, zone.replace("_", " ")) for zone in COMMON_ZONES]),
        ("All time zones", [(zone, zone.replace("_", " ")) for zone in others]),
    ]


class TimezoneField(forms.ChoiceField):
    """An IANA time zone, chosen from a list with the common ones first."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Time zone")
        kwargs.setdefault("initial", "America/New_York")
        kwargs.setdefault("error_messages", {"invalid_choice": "Choose a time zone from the list."})
        super().__init__(choices=timezone_choices, **kwargs)
