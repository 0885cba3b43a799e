"""Routes of the booking app mounted under /app/<slug:org>/ (config/urls.py): the views take
the organization slug first."""

from django.urls import path

from booking.views import dashboard, widgets

org_patterns = [
    path("api-health/", dashboard.api_health, name="booking-api-health"),
    path("centers/<code:code>/test/", dashboard.test_connection, name="booking-center-test"),
    path("widgets/", widgets.widget_list, name="booking-widgets"),
    # Before <code:code>: random widget codes are ten characters, never "add" or "preview".
    path("widgets/add/", widgets.widget_add, name="booking-widget-add"),
    path("widgets/preview/", widgets.widget_preview, name="booking-widget-preview"),
    path("widgets/<code:code>/", widgets.widget_edit, name="booking-widget-edit"),
    path("widgets/<code:code>/enabled/", widgets.widget_toggle, name="booking-widget-toggle"),
]

urlpatterns = org_patterns
