"""Signing in with brute-force lockout, signing up with a first organization, and password reset."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from tenants import lockout
from tenants.models import AuditLog, Membership, Organization, Role, User
from tests.conftest import PASSWORD, make_user

LOGIN = "/accounts/login/"


def _login(client, email, password, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def _signed_in(client):
    return SESSION_KEY in client.session


@pytest.fixture
def small_lockout(settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


@pytest.fixture
def clock(monkeypatch):
    """The lockout's clock, moved by hand: clock.advance(seconds)."""

    class Clock:
        now = 1_800_000_000.0

        def advance(self, seconds):
            self.now += seconds

    c = Clock()
    monkeypatch.setattr(lockout, "now", lambda: c.now)
    return c


# --- Signing in ----------------------------------------------------------------------


def test_login_page_offers_password_reset_and_sign_up(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert reverse("password_reset") in response.text
    assert reverse("signup") in response.text
    assert "Forgot password?" in response.text


def test_member_signs_in_and_goes_to_the_organization_picker(client, owner):
    response = _login(client, "Owner@Lumen.test", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("tenants-org-picker")
    assert _signed_in(client)


def test_login_follows_a_local_next_but_not_an_offsite_one(client, owner, org):
    dashboard = reverse("tenants-dashboard", args=[org.slug])
    response = client.post(LOGIN, {"email": owner.email, "password": PASSWORD, "next": dashboard})
    assert response.url == dashboard
    client.logout()
    response = client.post(
        LOGIN, {"email": owner.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.url == reverse("tenants-org-picker")


def test_wrong_password_says_so_plainly(client, owner):
    response = _login(client, owner.email, "nope-nope-nope")
    assert response.status_code == 400
    assert "don&#x27;t match" in response.text
    assert not _signed_in(client)


@pytest.mark.parametrize(
    "data",
    [{}, {"email": "not an email", "password": "x"}, {"email": "a@b.test"}, {"email": "x" * 5000}],
)
def test_garbage_login_input_is_a_form_error_not_a_crash(client, db, data):
    response = client.post(LOGIN, data)
    assert response.status_code == 400
    assert not _signed_in(client)


def test_signed_in_user_visiting_login_is_sent_on(login, owner):
    response = login(owner).get(LOGIN)
    assert response.status_code == 302


def test_account_is_locked_after_too_many_failures_even_with_the_right_password(
    client, owner, small_lockout
):
    for _ in range(2):
        assert _login(client, owner.email, "wrong-guess").status_code == 400
    third = _login(client, owner.email, "wrong-guess")
    assert third.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 10 minutes." in third.text
    response = _login(client, owner.email, PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)


def test_locked_out_attempt_does_not_check_the_password(client, owner, small_lockout, monkeypatch):
    for _ in range(3):
        _login(client, owner.email, "wrong-guess")
    checked = []
    monkeypatch.setattr(
        "tenants.views.accounts.authenticate", lambda *a, **kw: checked.append(kw) or owner
    )
    assert _login(client, owner.email, PASSWORD).status_code == 429
    assert checked == []


def test_lockout_expires_when_the_window_has_passed(client, owner, small_lockout, clock):
    for _ in range(3):
        _login(client, owner.email, "wrong-guess")
    clock.advance(599)
    response = _login(client, owner.email, PASSWORD)
    assert response.status_code == 429
    assert "Try again in 1 minute." in response.text
    clock.advance(2)
    assert _login(client, owner.email, PASSWORD).status_code == 302
    assert _signed_in(client)


def test_failures_further_apart_than_the_window_do_not_add_up(client, owner, small_lockout, clock):
    _login(client, owner.email, "wrong-guess")
    _login(client, owner.email, "wrong-guess")
    clock.advance(601)
    assert _login(client, owner.email, "wrong-guess").status_code == 400
    assert _login(client, owner.email, PASSWORD).status_code == 302


def test_successful_login_clears_the_accounts_failures(client, owner, small_lockout):
    # Each attempt from its own address, so only the account's count is in play.
    def attempt(password, n):
        return _login(client, owner.email, password, REMOTE_ADDR=f"198.51.100.{n}")

    attempt("wrong-guess", 1)
    attempt("wrong-guess", 2)
    assert attempt(PASSWORD, 3).status_code == 302
    client.logout()
    # Two fresh failures are allowed again before the third would lock the account.
    assert attempt("wrong-guess", 4).status_code == 400
    assert attempt("wrong-guess", 5).status_code == 400
    assert attempt(PASSWORD, 6).status_code == 302


def test_a_successful_login_does_not_reset_the_addresss_count(client, owner, small_lockout):
    _login(client, "someone@lumen.test", "wrong-guess")
    _login(client, "someone-else@lumen.test", "wrong-guess")
    assert _login(client, owner.email, PASSWORD).status_code == 302
    client.logout()
    assert _login(client, "third@lumen.test", "wrong-guess").status_code == 429


def test_account_lockout_holds_whatever_address_the_attempts_come_from(
    client, owner, small_lockout
):
    for n in range(3):
        _login(client, owner.email, "wrong-guess", REMOTE_ADDR=f"198.51.100.{n}")
    response = _login(client, owner.email, PASSWORD, REMOTE_ADDR="203.0.113.77")
    assert response.status_code == 429


def test_the_account_is_matched_whatever_the_case_of_the_email(client, owner, small_lockout):
    for email in ["owner@lumen.test", "OWNER@lumen.test", " Owner@Lumen.Test "]:
        _login(client, email, "wrong-guess", REMOTE_ADDR="198.51.100.9")
    assert _login(client, owner.email, PASSWORD, REMOTE_ADDR="203.0.113.1").status_code == 429


def test_one_address_guessing_many_accounts_is_locked_out(client, owner, small_lockout):
    for n in range(3):
        _login(client, f"someone{n}@lumen.test", "wrong-guess", REMOTE_ADDR="198.51.100.20")
    response = _login(client, owner.email, PASSWORD, REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 429
    # The owner is still welcome from elsewhere: only that address is locked.
    assert _login(client, owner.email, PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 302


def test_rotating_a_spoofed_forwarded_for_does_not_dodge_the_address_lockout(
    client, owner, small_lockout
):
    for n in range(3):
        _login(
            client,
            f"someone{n}@lumen.test",
            "wrong-guess",
            REMOTE_ADDR="198.51.100.30",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = _login(
        client,
        owner.email,
        PASSWORD,
        REMOTE_ADDR="198.51.100.30",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_only_the_proxys_entry_counts(client, owner, small_lockout):
    small_lockout.TRUSTED_PROXY_COUNT = 1
    for n in range(3):
        # The client prepends made-up addresses; our proxy appends the real one.
        _login(
            client,
            f"someone{n}@lumen.test",
            "wrong-guess",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.40",
        )
    locked = _login(
        client,
        owner.email,
        PASSWORD,
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.40",
    )
    assert locked.status_code == 429
    other_client = _login(
        client, owner.email, PASSWORD, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8"
    )
    assert other_client.status_code == 302


@pytest.mark.parametrize(
    "hops,remote,forwarded,expected",
    [
        (0, "198.51.100.1", "1.2.3.4", "198.51.100.1"),
        (1, "10.0.0.1", "1.2.3.4, 198.51.100.2", "198.51.100.2"),
        (2, "10.0.0.1", "1.2.3.4, 198.51.100.3, 10.0.0.2", "198.51.100.3"),
        # Fewer entries than proxies: the header did not pass all of them; trust the socket.
        (2, "10.0.0.1", "198.51.100.4", "10.0.0.1"),
        (1, "10.0.0.1", "", "10.0.0.1"),
        (0, "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),
    ],
)
def test_client_address(settings, hops, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert lockout.client_ip(request) == expected


# --- Signing up ----------------------------------------------------------------------

SIGNUP = "/accounts/signup/"


def _signup_data(**overrides):
    data = {
        "full_name": "Sofia Salon",
        "email": "Sofia@Example.test",
        "password": "plum-velvet-harbor-92",
        "organization_name": "Sofia's Hair Studio",
        "timezone": "America/Chicago",
    }
    data.update(overrides)
    return data


def test_sign_up_creates_the_organization_with_the_user_as_owner_and_signs_in(client, db):
    response = client.post(SIGNUP, _signup_data(), follow=True)
    user = User.objects.get(email="sofia@example.test")
    organization = Organization.objects.get(name="Sofia's Hair Studio")
    assert organization.timezone == "America/Chicago"
    assert Membership.objects.get(organization=organization, user=user).role == Role.OWNER
    assert response.redirect_chain[0][0] == reverse("tenants-dashboard", args=[organization.slug])
    assert "Welcome to Chairfill, Sofia!" in response.text
    assert int(client.session[SESSION_KEY]) == user.pk
    assert AuditLog.objects.filter(
        organization=organization, action="organization.created"
    ).exists()


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"email": "OWNER@lumen.test"}, "email", "already an account"),
        ({"password": "password123"}, "password", "too common"),
        ({"password": "short"}, "password", "too short"),
        ({"password": "sofia.example"}, "password", "too similar"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"organization_name": "   "}, "organization_name", "required"),
        ({"full_name": ""}, "full_name", "required"),
    ],
)
def test_bad_sign_up_shows_the_field_error_and_creates_nothing(
    client, owner, overrides, field, message
):
    before = Organization.objects.count(), User.objects.count()
    response = client.post(SIGNUP, _signup_data(**overrides))
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert (Organization.objects.count(), User.objects.count()) == before
    assert not _signed_in(client)


def test_sign_up_page_defaults_to_new_york_time(client, db):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    assert response.context["form"]["timezone"].value() == "America/New_York"


def test_signed_in_user_on_sign_up_creates_another_organization(login, owner, org):
    client = login(owner)
    assert "New organization" in client.get(SIGNUP).text
    response = client.post(
        SIGNUP, {"organization_name": "Lumen Uptown", "timezone": "America/Denver"}
    )
    new = Organization.objects.get(name="Lumen Uptown")
    assert response.url == reverse("tenants-dashboard", args=[new.slug])
    assert Membership.objects.get(organization=new, user=owner).role == Role.OWNER
    assert User.objects.filter(email=owner.email).count() == 1


# --- Password reset ------------------------------------------------------------------


def test_password_reset_emails_a_link_that_sets_a_new_password(client, owner, settings):
    response = client.post(reverse("password_reset"), {"email": "OWNER@lumen.test"})
    assert response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert message.alternatives and message.alternatives[0].mimetype == "text/html"
    link = re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)
    assert link.startswith(settings.SITE_URL)
    path = link.removeprefix(settings.SITE_URL)
    assert path in message.alternatives[0].content

    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "fresh-mint-lantern-7", "new_password2": "fresh-mint-lantern-7"}
    )
    assert done.url == reverse("password_reset_complete")
    assert _login(client, owner.email, "fresh-mint-lantern-7").status_code == 302


def test_password_reset_for_an_unknown_email_sends_nothing_and_looks_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response.url == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_used_reset_link_no_longer_works(client, owner):
    client.post(reverse("password_reset"), {"email": owner.email})
    path = re.search(r"/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    set_url = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(
        set_url, {"new_password1": "fresh-mint-lantern-7", "new_password2": "fresh-mint-lantern-7"}
    )
    response = client.get(path, follow=True)
    assert "This link no longer works" in response.text


def test_resetting_the_password_lifts_an_account_lockout(client, owner, small_lockout):
    for _ in range(3):
        _login(client, owner.email, "wrong-guess", REMOTE_ADDR=f"198.51.100.{_}")
    client.post(reverse("password_reset"), {"email": owner.email})
    path = re.search(r"/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    set_url = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(
        set_url, {"new_password1": "fresh-mint-lantern-7", "new_password2": "fresh-mint-lantern-7"}
    )
    assert _login(client, owner.email, "fresh-mint-lantern-7").status_code == 302


def test_sign_up_email_check_ignores_case(client, db):
    make_user("taken@example.test")
    response = client.post(SIGNUP, _signup_data(email="TAKEN@example.test"))
    assert response.status_code == 400


def test_the_admin_signs_in_through_the_locked_down_login_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url == reverse("login") + "?next=/admin/"
