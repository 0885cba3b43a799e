"""Forms for signing in and signing up."""

from django import forms
from django.contrib.auth import password_validation

from tenants.forms.fields import TimezoneField
from tenants.models import User, validate_timezone

EMAIL_TAKEN = "There is already an account with this email. Sign in, or reset your password."


class LoginForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class NewPasswordMixin:
    """Runs Django's password validators against the person the password is for."""

    def check_password_strength(self, email, full_name):
        password = self.cleaned_data.get("password")
        if not password:
            return
        try:
            password_validation.validate_password(
                password, User(email=email or "", full_name=full_name or "")
            )
        except forms.ValidationError as error:
            self.add_error("password", error)


def password_field():
    return forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password and not all numbers.",
    )


def full_name_field():
    return forms.CharField(
        label="Your name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class SignupForm(NewPasswordMixin, forms.Form):
    full_name = full_name_field()
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = password_field()
    organization_name = forms.CharField(
        label="Salon or business name",
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    timezone = TimezoneField(validators=[validate_timezone], help_text="Where your salon is.")

    def clean_full_name(self):
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(EMAIL_TAKEN)
        return email

    def clean_organization_name(self):
        name = self.cleaned_data["organization_name"].strip()
        if not name:
            raise forms.ValidationError("Enter the name of your salon or business.")
        return name

    def clean(self):
        self.check_password_strength(
            self.cleaned_data.get("email"), self.cleaned_data.get("full_name")
        )
        return self.cleaned_data


class NewOrganizationForm(forms.Form):
    """For someone already signed in who wants another organization."""

    organization_name = SignupForm.base_fields["organization_name"]
    timezone = SignupForm.base_fields["timezone"]

    clean_organization_name = SignupForm.clean_organization_name
