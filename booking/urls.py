"""Routes of the booking app mounted under /app/<slug:org>/ (config/urls.py): the views take
the organization slug first."""

from django.urls import path

from booking.views import dashboard

org_patterns = [
    path("api-health/", dashboard.api_health, name="booking-api-health"),
    path("centers/<code:code>/test/", dashboard.test_connection, name="booking-center-test"),
]

urlpatterns = org_patterns
