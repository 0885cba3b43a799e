"""Signing in (with brute-force lockout), signing up with a first organization, and
password reset (Django's views with our templates and emails)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.db import IntegrityError
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from tenants import actions, lockout
from tenants.forms.accounts import EMAIL_TAKEN, LoginForm, NewOrganizationForm, SignupForm
from tenants.models import User

WRONG_CREDENTIALS = "That email and password don't match. Check both and try again."


def _next_url(request):
    """Where to go after signing in: ?next= when it points at this site, else the picker."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password")
@never_cache
def login_view(request):
    next_url = _next_url(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = LoginForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            email = form.cleaned_data["email"]
            ip = lockout.client_ip(request)
            # A locked-out attempt is refused before the password is even looked at.
            wait = lockout.seconds_locked(email, ip)
            if not wait:
                user = authenticate(request, email=email, password=form.cleaned_data["password"])
                if user is not None:
                    lockout.clear_account(email)
                    auth_login(request, user)
                    return redirect(next_url)
                wait = lockout.record_failure(email, ip)
            if wait:
                form.add_error(None, lockout.message(wait))
                status = 429
            else:
                form.add_error(None, WRONG_CREDENTIALS)
    ctx = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    return render(request, "registration/login.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password")
def signup(request):
    if request.user.is_authenticated:
        return _new_organization(request)
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            user, organization = actions.sign_up(
                data["full_name"],
                data["email"],
                data["password"],
                data["organization_name"],
                data["timezone"],
            )
        except IntegrityError:
            # Someone signed up with this email between the form check and the insert.
            if not User.objects.filter(email__iexact=data["email"]).exists():
                raise
            form.add_error("email", EMAIL_TAKEN)
        else:
            auth_login(request, user)
            messages.success(
                request,
                f"Welcome to Chairfill, {user.get_short_name()}! "
                "Connect your first Zenoti center to start taking bookings.",
            )
            return redirect("tenants-dashboard", organization.slug)
    status = 400 if form.is_bound else 200
    return render(request, "tenants/accounts/signup.html", {"form": form}, status=status)


def _new_organization(request):
    """Sign-up for someone already signed in: just the new organization."""
    form = NewOrganizationForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        organization = actions.create_organization(
            request.user,
            form.cleaned_data["organization_name"],
            timezone=form.cleaned_data["timezone"],
            owner=request.user,
        )
        messages.success(request, f"{organization.name} is ready. You are its owner.")
        return redirect("tenants-dashboard", organization.slug)
    status = 400 if form.is_bound else 200
    return render(request, "tenants/accounts/new_organization.html", {"form": form}, status=status)


class _PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        # Proving control of the mailbox also lifts a lockout of the account.
        lockout.clear_account(form.user.email)
        return response


password_reset = auth_views.PasswordResetView.as_view(
    template_name="registration/password_reset_form.html",
    subject_template_name="tenants/email/password_reset_subject.txt",
    email_template_name="tenants/email/password_reset.txt",
    html_email_template_name="tenants/email/password_reset.html",
    # Links use the configured address, never the Host header of the request.
    extra_email_context={"site_url": settings.SITE_URL},
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="registration/password_reset_done.html"
)
password_reset_confirm = _PasswordResetConfirmView.as_view(
    template_name="registration/password_reset_confirm.html"
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="registration/password_reset_complete.html"
)
