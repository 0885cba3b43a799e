"""Routes of the webhook pages, mounted under /app/<slug:org>/ (config/urls.py): the views
take the organization slug first."""

from django.urls import path

from attribution import views_webhooks as views

org_patterns = [
    path("webhooks/", views.endpoint_list, name="attribution-webhooks"),
    # Before <code:code>: random endpoint codes are ten characters, never "add" or "deliveries".
    path("webhooks/add/", views.endpoint_add, name="attribution-webhook-add"),
    path("webhooks/deliveries/", views.delivery_log, name="attribution-webhook-deliveries"),
    path(
        "webhooks/deliveries/<code:code>/",
        views.delivery_detail,
        name="attribution-webhook-delivery",
    ),
    path(
        "webhooks/deliveries/<code:code>/replay/",
        views.delivery_replay,
        name="attribution-webhook-replay",
    ),
    path("webhooks/<code:code>/", views.endpoint_edit, name="attribution-webhook-edit"),
    path("webhooks/<code:code>/enabled/", views.endpoint_toggle, name="attribution-webhook-toggle"),
    path("webhooks/<code:code>/rotate/", views.endpoint_rotate, name="attribution-webhook-rotate"),
    path("webhooks/<code:code>/test/", views.endpoint_test, name="attribution-webhook-test"),
]

urlpatterns = org_patterns
