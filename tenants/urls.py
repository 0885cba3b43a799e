"""Routes of the tenants app: accounts, the organization picker, organization pages
(mounted under /app/<org>/), the agency console and the health probes."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from tenants.views import accounts, agency, centers, dashboard, health, members, org_settings


class CodeConverter:
    """Our random public codes (tenants.models.random_code): anything else is a 404 before
    it reaches a query (a NUL byte, say, would be a database error on PostgreSQL)."""

    regex = "[a-z0-9]{1,32}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class TokenConverter(CodeConverter):
    """Invitation tokens (secrets.token_urlsafe)."""

    regex = "[A-Za-z0-9_-]{1,128}"


register_converter(CodeConverter, "code")
register_converter(TokenConverter, "token")

account_patterns = [
    path("login/", accounts.login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", accounts.signup, name="signup"),
    path("password-reset/", accounts.password_reset, name="password_reset"),
    path("password-reset/sent/", accounts.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", accounts.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", accounts.password_reset_complete, name="password_reset_complete"),
    path(
        "invitations/<code:code>/<token:token>/",
        members.accept_invitation,
        name="tenants-invitation-accept",
    ),
]

# Mounted under /app/<slug:org>/ — every view here takes the organization slug first.
org_patterns = [
    path("", dashboard.dashboard, name="tenants-dashboard"),
    path("centers/", centers.center_list, name="tenants-centers"),
    path("centers/add/", centers.center_add, name="tenants-center-add"),
    path("centers/<code:code>/", centers.center_edit, name="tenants-center-edit"),
    path("centers/<code:code>/enabled/", centers.center_toggle, name="tenants-center-toggle"),
    path("settings/", org_settings.settings_page, name="tenants-settings"),
    path("settings/branding/", org_settings.branding, name="tenants-branding"),
    path("settings/referral/", org_settings.referral_defaults, name="tenants-referral-defaults"),
    path("settings/referral/rules/", org_settings.rule_add, name="tenants-rule-add"),
    path(
        "settings/referral/rules/<code:code>/delete/",
        org_settings.rule_delete,
        name="tenants-rule-delete",
    ),
    path(
        "settings/referral/rules/<code:code>/move/",
        org_settings.rule_move,
        name="tenants-rule-move",
    ),
    path("settings/referral/test/", org_settings.rule_test, name="tenants-rule-test"),
    path("members/", members.member_list, name="tenants-members"),
    path("members/invite/", members.invite, name="tenants-member-invite"),
    path("members/<code:code>/role/", members.change_role, name="tenants-member-role"),
    path("members/<code:code>/remove/", members.remove, name="tenants-member-remove"),
    path(
        "members/invitations/<code:code>/revoke/",
        members.revoke_invitation,
        name="tenants-invitation-revoke",
    ),
    path("activity/", dashboard.activity, name="tenants-activity"),
]

agency_patterns = [
    path("", agency.console, name="tenants-agency"),
    path("organizations/new/", agency.create_organization, name="tenants-agency-org-create"),
]

urlpatterns = [
    path("accounts/", include(account_patterns)),
    path("app/", dashboard.org_picker, name="tenants-org-picker"),
    path("app/<slug:org>/", include(org_patterns)),
    path("agency/<slug:agency>/", include(agency_patterns)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
