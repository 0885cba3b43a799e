"""Root URLconf: each app owns its routes."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tenants-org-picker", permanent=False)),
    # Staff sign in through our login page too, so the admin has the same lockout.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls")),
    path("app/<slug:org>/", include("booking.urls")),
    path("app/<slug:org>/", include("attribution.urls")),
    path("app/<slug:org>/", include("attribution.webhook_urls")),
    path("", include("booking.public_urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
