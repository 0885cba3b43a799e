"""Encryption of secrets at rest with MultiFernet: the first configured key encrypts, all decrypt."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(ImproperlyConfigured):
    """No key in FIELD_ENCRYPTION_KEYS can decrypt a stored value."""


@cache
def _fernet_for(keys):
    return MultiFernet([Fernet(key) for key in keys])


def fernet():
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what="a stored secret") -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            f"Cannot decrypt {what}: none of the FIELD_ENCRYPTION_KEYS matches. Was a key "
            "removed before `manage.py rotate_encryption_keys` re-encrypted everything?"
        ) from None


def is_current(token: str) -> bool:
    """True when the token is already encrypted under the first (current) key."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column that holds a Fernet token; Python code sees the plaintext.

    Only equality on NULL/empty makes sense in queries: tokens are randomised.
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value, what=f"{self.model._meta.label}.{self.name}")

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
