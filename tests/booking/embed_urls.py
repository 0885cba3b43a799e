"""The site's URLconf plus a page that sends the embed headers of a widget, for the tests of
booking.embed.apply_embed_headers through the real middleware."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path

from booking.embed import apply_embed_headers
from booking.models import Widget
from config.urls import urlpatterns as site_patterns


def framed(request, widget):
    widget = get_object_or_404(Widget.objects.select_related("organization"), code=widget)
    return apply_embed_headers(HttpResponse("framed"), widget)


urlpatterns = [path("framed/<code:widget>/", framed), *site_patterns]
