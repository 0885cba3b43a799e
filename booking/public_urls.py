"""Guest-facing routes of the booking app, mounted at the site root by config/urls.py: the
booking funnel (/b/<org>/<widget>/…) and the embed loader (/w/<widget>.js)."""

from django.urls import path, register_converter

from booking.views import embed, public

# Importing tenants.urls also registers the <code:…> converter used below.
from tenants.urls import TokenConverter


class SessionConverter(TokenConverter):
    """Booking session codes (booking.models.session_code: secrets.token_urlsafe(16))."""

    regex = "[A-Za-z0-9_-]{16,32}"


register_converter(SessionConverter, "session")

SESSION = "b/<slug:org>/<code:widget>/<session:session>/"

urlpatterns = [
    path("b/<slug:org>/<code:widget>/", public.start, name="booking-funnel-start"),
    path("b/<slug:org>/<code:widget>/theme.css", public.theme, name="booking-funnel-theme"),
    path(SESSION, public.resume, name="booking-session"),
    path(f"{SESSION}center/", public.step_center, name="booking-step-center"),
    path(f"{SESSION}service/", public.step_service, name="booking-step-service"),
    path(f"{SESSION}provider/", public.step_provider, name="booking-step-provider"),
    path(f"{SESSION}time/", public.step_time, name="booking-step-time"),
    path(f"{SESSION}details/", public.step_details, name="booking-step-details"),
    path(f"{SESSION}review/", public.step_review, name="booking-step-review"),
    path(f"{SESSION}pay/", public.step_pay, name="booking-step-pay"),
    path(f"{SESSION}paid/", public.payment_return, name="booking-payment-return"),
    path(f"{SESSION}done/", public.step_done, name="booking-step-done"),
    path(f"{SESSION}calendar.ics", public.ics, name="booking-ics"),
    path("w/<code:widget>.js", embed.widget_loader, name="booking-widget-loader"),
]
