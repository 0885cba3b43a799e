"""Routes of the bookings pages, mounted under /app/<slug:org>/ (config/urls.py): the views
take the organization slug first."""

from django.urls import path

from attribution import views

org_patterns = [
    path("bookings/", views.booking_list, name="attribution-bookings"),
    # A booking session's code (secrets.token_urlsafe): the <token:…> converter's alphabet.
    path("bookings/<token:code>/", views.booking_detail, name="attribution-booking"),
]

urlpatterns = org_patterns
