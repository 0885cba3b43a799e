"""Django admin for platform staff. A center's API key is write-only here too: the admin shows
the masked key and offers a field to replace it, never the plaintext."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from tenants.models import (
    Agency,
    AgencyMembership,
    AuditLog,
    Center,
    Invitation,
    Membership,
    Organization,
    ReferralRule,
    User,
)


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "full_name")
    ordering = ("email",)


class AgencyMembershipInline(admin.TabularInline):
    model = AgencyMembership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [AgencyMembershipInline]


@admin.register(AgencyMembership)
class AgencyMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "agency", "created_at")
    list_select_related = ("user", "agency")
    search_fields = ("user__email", "agency__name")
    raw_id_fields = ("user",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "agency", "timezone", "is_active", "created_at")
    list_filter = ("is_active", "agency")
    list_select_related = ("agency",)
    search_fields = ("name", "slug", "display_name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "organization")
    search_fields = ("user__email", "organization__name")
    raw_id_fields = ("user", "organization")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "created_at", "expires_at", "accepted_at")
    list_filter = ("role",)
    list_select_related = ("organization",)
    search_fields = ("email", "organization__name")
    # The token exists only in the emailed link; its hash is of no use to staff.
    exclude = ("token_hash",)
    readonly_fields = ("code", "invited_by", "accepted_by", "accepted_at", "created_at")


class CenterAdminForm(forms.ModelForm):
    """The stored key is not a form field; `new_api_key` (write-only) replaces it."""

    new_api_key = forms.CharField(
        label="Replace API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current key.",
    )

    class Meta:
        model = Center
        # Listed, not `exclude`d, so a future secret field is not shown by accident.
        fields = (
            "organization",
            "name",
            "zenoti_center_id",
            "timezone",
            "api_base_url",
            "api_key_expires_on",
            "enabled",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["new_api_key"].required = True
            self.fields["new_api_key"].label = "API key"
            self.fields["new_api_key"].help_text = ""

    def clean_new_api_key(self):
        key = self.cleaned_data["new_api_key"]
        if any(char.isspace() for char in key):
            raise forms.ValidationError("An API key has no spaces or line breaks.")
        return key


@admin.register(Center)
class CenterAdmin(admin.ModelAdmin):
    form = CenterAdminForm
    list_display = (
        "name",
        "organization",
        "zenoti_center_id",
        "masked_api_key",
        "api_key_expires_on",
        "enabled",
    )
    list_filter = ("enabled",)
    list_select_related = ("organization",)
    search_fields = ("name", "zenoti_center_id", "code", "organization__name")
    readonly_fields = ("masked_api_key", "code", "created_at", "updated_at")
    raw_id_fields = ("organization",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "name",
                    "code",
                    "zenoti_center_id",
                    "timezone",
                    "api_base_url",
                    "enabled",
                )
            },
        ),
        ("API key", {"fields": ("masked_api_key", "new_api_key", "api_key_expires_on")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="API key")
    def masked_api_key(self, obj):
        return obj.masked_api_key if obj.pk else "—"

    @method_decorator(sensitive_post_parameters("new_api_key"))
    @method_decorator(sensitive_variables())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("new_api_key"):
            obj.api_key = form.cleaned_data["new_api_key"]
        super().save_model(request, obj, form, change)


@admin.register(ReferralRule)
class ReferralRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "organization", "position", "referral_source_id")
    list_select_related = ("organization",)
    search_fields = ("organization__name", "value", "referral_source_id", "label")
    raw_id_fields = ("organization",)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the audit log is a record, not something staff edit."""

    list_display = ("created_at", "organization", "actor", "action", "target")
    list_filter = ("action",)
    list_select_related = ("organization", "actor")
    search_fields = ("action", "target", "actor__email", "organization__name")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
