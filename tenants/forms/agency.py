"""Forms of the agency console."""

from django import forms

from tenants.forms.fields import TimezoneField


class ClientOrganizationForm(forms.Form):
    name = forms.CharField(label="Salon name", max_length=120)
    timezone = TimezoneField()
    owner_email = forms.EmailField(
        label="Salon owner's email",
        required=False,
        help_text="We send them an invitation to join as owner. Leave empty to invite later.",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the salon's name.")
        return name
