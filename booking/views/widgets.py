"""Member pages of booking widgets: the list, create and edit with a live preview, the embed
code of each mode, enable/disable. Everyone in the organization can look; managers edit."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking import actions
from booking.forms import WidgetForm
from booking.models import Widget
from tenants.access import org_member_required, org_object
from tenants.models import Center, Role, readable_text_color

LIST_PAGE = "booking/widgets/list.html"
FORM_PAGE = "booking/widgets/form.html"
DEFAULT_HEADLINE = "Book an appointment"


def _get_widget_for_member(request, organization, code, *, write=False):
    """The organization's widget and whether the member may change it; 403 on a write
    without the role (outsiders never get here: org_member_required answers 404)."""
    widget = org_object(Widget, organization, code=code)
    can_edit = request.access.can(Role.MANAGER)
    if write and not can_edit:
        raise PermissionDenied("Changing widgets needs the manager role.")
    return widget, can_edit


def embed_code(widget):
    """The direct link and the snippets that put the widget on a site."""
    site = settings.SITE_URL
    loader = site + reverse("booking-widget-loader", args=[widget.code])
    return {
        Widget.Mode.LINK: site
        + reverse("booking-funnel-start", args=[widget.organization.slug, widget.code]),
        Widget.Mode.INLINE: (
            f'<div data-chairfill-widget="{widget.code}"></div>\n'
            f'<script src="{loader}" async data-mode="inline"></script>'
        ),
        Widget.Mode.POPUP: f'<script src="{loader}" async data-mode="popup"></script>',
    }


EMBED_HELP = {
    Widget.Mode.INLINE: (
        "Inline on a page",
        "Paste it where the booking steps should appear, for example on your “Book” page.",
    ),
    Widget.Mode.POPUP: (
        "Popup button",
        "Paste it once, before </body>: a button floats in the corner of every page and "
        "opens the booking over the page.",
    ),
    Widget.Mode.LINK: (
        "Direct link",
        "Share it anywhere: your Instagram bio, Google Business Profile, emails and ads.",
    ),
}


def embed_options(widget):
    """The embed code of each mode, the widget's own mode first."""
    code = embed_code(widget)
    options = [
        {"mode": mode, "title": title, "help": text, "code": code[mode], "id": f"embed-{mode}"}
        for mode, (title, text) in EMBED_HELP.items()
    ]
    return sorted(options, key=lambda option: option["mode"] != widget.mode)


def preview_values(organization, widget=None, form=None):
    """What the preview shows: the form's valid values; anything missing or invalid falls back
    to the saved widget, then to the organization's branding."""
    values = {
        "brand": widget.brand if widget else organization.brand_color,
        "accent": widget.accent if widget else organization.accent_color,
        "logo": widget.logo if widget else organization.logo_url,
        "headline": widget.headline if widget else "",
        "button_text": widget.button_text if widget else "Book now",
        "mode": widget.mode if widget else Widget.Mode.INLINE,
    }
    if form is not None and form.is_bound:
        form.is_valid()
        data = form.cleaned_data
        if "custom_colors" in data:
            custom = data["custom_colors"]
            for key, name, fallback in [
                ("brand", "brand_color", organization.brand_color),
                ("accent", "accent_color", organization.accent_color),
            ]:
                # Only a validated color reaches the page; an invalid one shows the fallback.
                values[key] = (data.get(name) if custom else "") or fallback
        if "logo_url" in data:
            values["logo"] = data["logo_url"] or organization.logo_url
        for name in ("headline", "button_text", "mode"):
            if name in data:
                values[name] = data[name]
    values["headline"] = values["headline"] or DEFAULT_HEADLINE
    values["button_text"] = values["button_text"] or "Book now"
    values["name"] = organization.public_name
    values["brand_text"] = readable_text_color(values["brand"])
    values["accent_text"] = readable_text_color(values["accent"])
    # The preview's buttons are 36 px tall: a larger radius is a pill, as in CSS.
    values["button_rx"] = min(organization.button_radius, 18)
    # The floating popup button sized to its text (about 7.5 px a character at 13 px).
    values["pill_text"] = Truncator(values["button_text"]).chars(24)
    width = min(max(round(len(values["pill_text"]) * 7.5) + 40, 110), 230)
    values["pill_width"], values["pill_x"] = width, 344 - width
    values["pill_middle"] = 344 - width / 2
    return values


def _form_ctx(request, organization, form, widget=None):
    centers = Center.objects.filter(organization=organization)
    return {
        "nav": "widgets",
        "org": organization,
        "form": form,
        "widget": widget,
        "can_edit": request.access.can(Role.MANAGER),
        "has_centers": centers.exists(),
        "preview": preview_values(organization, widget, form),
        "embed": embed_code(widget) if widget else None,
        "embed_options": embed_options(widget) if widget else [],
    }


@org_member_required()
@require_GET
def widget_list(request, organization):
    widgets = list(Widget.objects.filter(organization=organization).prefetch_related("centers"))
    for widget in widgets:
        widget.links = embed_code(widget)
    ctx = {
        "nav": "widgets",
        "widgets": widgets,
        "can_manage": request.access.can(Role.MANAGER),
        "enabled_centers": Center.objects.filter(organization=organization, enabled=True).count(),
    }
    return render(request, LIST_PAGE, ctx)


@org_member_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def widget_add(request, organization):
    form = WidgetForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        widget = actions.create_widget(organization, request.user, form.widget_data())
        messages.success(
            request, f"“{widget.name}” is ready. Put it on your site with the code below."
        )
        return redirect("booking-widget-edit", organization.slug, widget.code)
    return render(request, FORM_PAGE, _form_ctx(request, organization, form))


@org_member_required()
@require_http_methods(["GET", "POST"])
def widget_edit(request, organization, code):
    widget, _ = _get_widget_for_member(request, organization, code, write=request.method == "POST")
    form = WidgetForm(request.POST or None, organization=organization, widget=widget)
    if request.method == "POST" and form.is_valid():
        changed = actions.update_widget(widget, request.user, form.widget_data())
        messages.success(request, f"“{widget.name}” saved." if changed else "Nothing changed.")
        return redirect("booking-widget-edit", organization.slug, widget.code)
    return render(request, FORM_PAGE, _form_ctx(request, organization, form, widget))


@org_member_required(Role.MANAGER)
@require_POST
def widget_toggle(request, organization, code):
    widget, _ = _get_widget_for_member(request, organization, code, write=True)
    # The button posts the state it asks for, so a double click does not flip it back.
    wanted = request.POST.get("enabled")
    enabled = wanted == "1" if wanted in ("0", "1") else not widget.enabled
    actions.set_widget_enabled(widget, request.user, enabled)
    if request.htmx:
        widget.links = embed_code(widget)
        ctx = {
            "widget": widget,
            "can_manage": True,
            "enabled_centers": Center.objects.filter(
                organization=organization, enabled=True
            ).count(),
        }
        return render(request, f"{LIST_PAGE}#widget-row", ctx)
    state = "on: guests can book through it" if widget.enabled else "off: it takes no bookings"
    messages.success(request, f"“{widget.name}” is {state}.")
    return redirect("booking-widgets", organization.slug)


@org_member_required(Role.MANAGER)
@require_POST
def widget_preview(request, organization):
    """The live preview from the unsaved form; nothing is saved. When the ticked centers
    changed, the service checkboxes come along (out of band) for the new centers."""
    form = WidgetForm(request.POST, organization=organization, load_menu=False)
    ctx = {"org": organization, "preview": preview_values(organization, form=form)}
    html = render_to_string(f"{FORM_PAGE}#preview", ctx, request)
    menu_for = ",".join(sorted(c.code for c in form.menu_centers()))
    if menu_for != request.POST.get("menu_for", menu_for):
        form = WidgetForm(request.POST, organization=organization)
        ctx = {"form": form, "oob": True}
        html += render_to_string(f"{FORM_PAGE}#offer", ctx, request)
    return HttpResponse(html)
