"""`manage.py seed_demo` loads the demo and is safe to run twice."""

from django.core.management import call_command

from tenants.models import (
    Agency,
    AgencyMembership,
    Center,
    Membership,
    Organization,
    ReferralRule,
    User,
)


def counts():
    return [
        model.objects.count()
        for model in (
            Agency,
            Organization,
            User,
            Membership,
            AgencyMembership,
            Center,
            ReferralRule,
        )
    ]


def test_seed_demo_runs_twice_without_duplicates(db, capsys):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first == [1, 2, 5, 4, 1, 3, 4]
    out = capsys.readouterr().out
    assert "owner@lumen.example" in out and "chairfill-demo" in out


def test_demo_users_can_sign_in_with_the_printed_password(db, client):
    call_command("seed_demo")
    assert client.login(username="viewer@lumen.example", password="chairfill-demo")
