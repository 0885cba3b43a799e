"""Forms of the webhook pages: an endpoint (its URL vetted by the same rules as the sender),
and the delivery log's filters."""

from django import forms

from attribution import sender
from attribution.delivery import TEST_EVENT
from attribution.models import DeliveryState, WebhookEndpoint, WebhookEventType

NO_AUTOCORRECT = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/chairfill"}),
        help_text="An https:// address on the public internet. Chairfill never follows "
        "redirects, so use the final address.",
        error_messages={"required": "Enter the address that should receive the events."},
    )
    description = forms.CharField(
        max_length=200,
        required=False,
        help_text="For your team, such as “Zapier: new bookings to the CRM”.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one event to send."},
    )
    enabled = forms.BooleanField(
        label="Enabled: send events to this endpoint",
        required=False,
        initial=True,
    )

    def __init__(self, *args, endpoint=None, **kwargs):
        if endpoint is not None:
            kwargs.setdefault(
                "initial",
                {
                    "url": endpoint.url,
                    "description": endpoint.description,
                    "event_types": endpoint.event_types,
                    "enabled": endpoint.enabled,
                },
            )
        else:
            kwargs.setdefault("initial", {"event_types": [WebhookEventType.BOOKING_COMPLETED]})
        super().__init__(*args, **kwargs)
        self.fields["url"].widget.attrs.update(NO_AUTOCORRECT)

    def clean_url(self):
        # The sender's own rules (https, no private or reserved addresses), so an endpoint
        # that saves is one the sender will call. Its reason is already in plain words.
        return sender.validate_url(self.cleaned_data["url"].strip())

    def clean_event_types(self):
        # Stored in the order of the choices, whatever order the browser sent them in.
        picked = set(self.cleaned_data["event_types"])
        return [value for value in WebhookEventType.values if value in picked]

    def endpoint_data(self):
        """The WebhookEndpoint fields the form sets."""
        return {name: self.cleaned_data[name] for name in self.fields}


class DeliveryFilterForm(forms.Form):
    """The delivery log's filters; an unknown value is ignored rather than an error."""

    endpoint = forms.ChoiceField(required=False)
    type = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[
            ("", "All events"),
            *WebhookEventType.choices,
            (TEST_EVENT, "Test event"),
        ],
    )
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *DeliveryState.choices])

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.endpoints = list(WebhookEndpoint.objects.filter(organization=organization))
        self.fields["endpoint"].choices = [
            ("", "All endpoints"),
            *((e.code, e.description or e.url) for e in self.endpoints),
        ]

    def filter(self, deliveries):
        if not self.is_valid():
            # Keep the valid filters; drop whichever value was not one of the choices.
            for name in list(self.errors):
                self.cleaned_data.pop(name, None)
        data = self.cleaned_data
        if data.get("endpoint"):
            deliveries = deliveries.filter(endpoint__code=data["endpoint"])
        if data.get("type"):
            deliveries = deliveries.filter(event__type=data["type"])
        if data.get("state"):
            deliveries = deliveries.filter(state=data["state"])
        return deliveries

    @property
    def active(self):
        return any(self.cleaned_data.get(name) for name in self.fields)
