"""Secrets at rest: Zenoti keys are stored as Fernet tokens, and `rotate_encryption_keys`
moves every encrypted field to the first configured key without losing or overwriting data."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connection
from django.test import override_settings

from tenants import crypto
from tenants.management.commands import rotate_encryption_keys
from tenants.models import Center

KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


@pytest.fixture
def key_a(settings):
    return settings.FIELD_ENCRYPTION_KEYS[0]


def make_centers(org, count):
    return [
        Center.objects.create(
            organization=org,
            zenoti_center_id=f"00000000-0000-4000-8000-{n:012d}",
            name=f"Center {n}",
            timezone="UTC",
            api_key=f"plaintext-key-{n:04d}",
        )
        for n in range(count)
    ]


def raw_tokens():
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, api_key FROM tenants_center ORDER BY id")
        return dict(cursor.fetchall())


def rotate(*args):
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


def test_the_database_holds_no_plaintext_key(center):
    stored = raw_tokens()[center.pk]
    assert "zk_live" not in stored
    assert "WXYZ" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert Center.objects.get(pk=center.pk).api_key == "zk_live_1234567890abcdefWXYZ"


def test_encrypting_twice_gives_different_tokens():
    assert crypto.encrypt("same") != crypto.encrypt("same")
    assert crypto.decrypt(crypto.encrypt("same")) == "same"


def test_is_current_tells_tokens_under_the_first_key(key_a):
    token_a = crypto.encrypt("secret")
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]):
        assert not crypto.is_current(token_a)
        assert crypto.is_current(crypto.encrypt("secret"))
        assert crypto.is_current(crypto.rotate(token_a))


def test_the_command_finds_every_encrypted_field():
    found = {
        (model._meta.label, field.name)
        for model, field in rotate_encryption_keys.encrypted_fields()
    }
    assert ("tenants.Center", "api_key") in found
    for model, field in rotate_encryption_keys.encrypted_fields():
        assert isinstance(field, crypto.EncryptedTextField)
        assert not model._meta.proxy


def test_rotation_moves_every_key_to_the_new_key(org, key_a):
    centers = make_centers(org, 5)
    before = raw_tokens()
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]):
        output = rotate("--batch-size", "2")
    assert "tenants.Center.api_key: 5 re-encrypted, 0 already current" in output
    after = raw_tokens()
    assert all(after[pk] != before[pk] for pk in before)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        for center in centers:
            assert Center.objects.get(pk=center.pk).api_key == center.api_key


def test_rerunning_the_rotation_changes_nothing(org, key_a):
    make_centers(org, 3)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]):
        rotate()
        tokens = raw_tokens()
        output = rotate()
    assert "tenants.Center.api_key: 0 re-encrypted, 3 already current" in output
    assert raw_tokens() == tokens


def test_rotation_counts_keys_that_were_already_current(org, key_a):
    make_centers(org, 2)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]):
        written_under_b = Center.objects.create(
            organization=org,
            zenoti_center_id="00000000-0000-4000-8000-999999999999",
            name="New",
            timezone="UTC",
            api_key="written-under-b",
        )
        output = rotate()
    assert "2 re-encrypted, 1 already current" in output
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        assert Center.objects.get(pk=written_under_b.pk).api_key == "written-under-b"


def test_reading_with_an_unknown_key_raises_a_clear_error(center):
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_C]),
        pytest.raises(crypto.DecryptionError) as error,
    ):
        Center.objects.get(pk=center.pk)
    message = str(error.value)
    assert "tenants.Center.api_key" in message
    assert "FIELD_ENCRYPTION_KEYS" in message
    assert "rotate_encryption_keys" in message


def test_undecryptable_values_are_named_and_the_rest_still_rotated(org, key_a):
    good = make_centers(org, 2)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_C]):
        lost = Center.objects.create(
            organization=org,
            zenoti_center_id="00000000-0000-4000-8000-888888888888",
            name="Under C",
            timezone="UTC",
            api_key="under-c",
        )
    out = StringIO()
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]),
        pytest.raises(CommandError) as error,
    ):
        call_command("rotate_encryption_keys", stdout=out)
    assert f"tenants.Center.api_key of pk={lost.pk}" in str(error.value)
    assert "1 value(s) could not be decrypted" in str(error.value)
    assert "2 re-encrypted, 0 already current, 1 undecryptable" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        for center in good:
            assert Center.objects.get(pk=center.pk).api_key == center.api_key


def test_undecryptable_value_makes_the_command_exit_non_zero(org, key_a):
    make_centers(org, 1)
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_C]),
        pytest.raises(SystemExit) as exit_info,
    ):
        execute_from_command_line(["manage.py", "rotate_encryption_keys"])
    assert exit_info.value.code != 0


def test_a_value_changed_during_rotation_is_not_overwritten(org, key_a, monkeypatch):
    (center,) = make_centers(org, 1)
    real_rotate = crypto.rotate

    def rotate_while_someone_saves(token):
        # A member replaces the key between our read and our write.
        fresh = Center.objects.get(pk=center.pk)
        fresh.api_key = "replaced-meanwhile"
        fresh.save(update_fields=["api_key"])
        return real_rotate(token)

    monkeypatch.setattr(crypto, "rotate", rotate_while_someone_saves)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, key_a]):
        output = rotate()
        assert "0 re-encrypted, 0 already current, 1 skipped" in output
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        assert Center.objects.get(pk=center.pk).api_key == "replaced-meanwhile"


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="at least 1"):
        rotate("--batch-size", "0")
