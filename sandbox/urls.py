"""Routes of the Zenoti sandbox (mounted at /sandbox/ when SANDBOX_ENABLED)."""

from django.urls import path

from sandbox import api, views

urlpatterns = [
    path("", views.home, name="sandbox-home"),
    # <slug:slug>, not <slug:org>: these are sandbox organizations, not Chairfill tenants.
    path("orgs/<slug:slug>/", views.organization, name="sandbox-org"),
    path("orgs/<slug:slug>/faults/", views.faults_update, name="sandbox-faults"),
    path("orgs/<slug:slug>/rate-limit/", views.rate_limit_update, name="sandbox-rate-limit"),
    path(
        "orgs/<slug:slug>/appointments/<uuid:appointment_id>/status/",
        views.appointment_status,
        name="sandbox-appointment-status",
    ),
    path("pay/<uuid:token>/", views.pay, name="sandbox-pay"),
    path("pay/<uuid:token>/authenticate/", views.pay_authenticate, name="sandbox-pay-authenticate"),
    path("zenoti/v1/<path:path>", api.endpoint, name="sandbox-api"),
    path("host/", views.host, name="sandbox-host"),
    path("receiver/", views.receiver, name="sandbox-receiver"),
]
