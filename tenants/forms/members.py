"""Forms for inviting members, changing their role and accepting an invitation."""

from django import forms

from tenants.forms.accounts import NewPasswordMixin, full_name_field, password_field
from tenants.models import Membership, Role, User

ROLE_HELP = {
    Role.OWNER: "Everything, including inviting and removing members.",
    Role.MANAGER: "Centers, widgets and settings.",
    Role.VIEWER: "Sees dashboards and analytics; changes nothing.",
}


def role_field(**kwargs):
    return forms.ChoiceField(
        label="Role",
        choices=Role.choices,
        error_messages={"invalid_choice": "Choose owner, manager or viewer."},
        **kwargs,
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = role_field(initial=Role.VIEWER)

    def __init__(self, *args, organization, **kwargs):
        self.organization = organization
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if Membership.objects.filter(
            organization=self.organization, user__email__iexact=email
        ).exists():
            raise forms.ValidationError(f"{email} is already a member of this organization.")
        return email

    def clean_role(self):
        return Role(self.cleaned_data["role"])


class RoleForm(forms.Form):
    role = role_field()

    def clean_role(self):
        return Role(self.cleaned_data["role"])


class AcceptSignupForm(NewPasswordMixin, forms.Form):
    """A new account for the invited address (the email comes from the invitation)."""

    full_name = full_name_field()
    password = password_field()

    def __init__(self, *args, email, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean_full_name(self):
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean(self):
        self.check_password_strength(self.email, self.cleaned_data.get("full_name"))
        return self.cleaned_data
