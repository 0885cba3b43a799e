"""Re-encrypt every EncryptedTextField value under the first of FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS, keep the old ones after it, deploy,
run this command, then remove the old keys. Safe to re-run and to run while the site is up.
"""

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from tenants import crypto

# The raw token is read and compared through this plain-text cast, so the field's
# from_db_value (decrypt) and get_prep_value (encrypt) never run.
RAW = "encrypted_token_raw"
MAX_LISTED_FAILURES = 20


def encrypted_fields():
    """(model, field) for every concrete EncryptedTextField, including future ones."""
    for model in apps.get_models():
        for field in model._meta.get_fields():
            # field.model is model: skips proxies and multi-table children, whose
            # rows are covered through the model that owns the column.
            if isinstance(field, crypto.EncryptedTextField) and field.model is model:
                yield model, field


def raw(field):
    return Cast(field.attname, output_field=models.TextField())


class Command(BaseCommand):
    help = "Re-encrypt stored secrets under the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows read per query (default 500).",
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        failures = []
        for model, field in encrypted_fields():
            failures += self.rotate_field(model, field, batch_size)
        if failures:
            listed = "\n".join(f"  {failure}" for failure in failures[:MAX_LISTED_FAILURES])
            more = len(failures) - MAX_LISTED_FAILURES
            if more > 0:
                listed += f"\n  … and {more} more"
            raise CommandError(
                f"{len(failures)} value(s) could not be decrypted with any key in "
                f"FIELD_ENCRYPTION_KEYS; they were left as they are:\n{listed}\n"
                "Add the key they were encrypted with back to FIELD_ENCRYPTION_KEYS "
                "(after the new key) and run this command again."
            )

    def rotate_field(self, model, field, batch_size):
        label = f"{model._meta.label}.{field.name}"
        rows = model._base_manager.annotate(**{RAW: raw(field)}).order_by("pk")
        rotated = current = changed = 0
        failures = []
        last_pk = None
        while True:
            batch = rows if last_pk is None else rows.filter(pk__gt=last_pk)
            batch = list(batch.values_list("pk", RAW)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1][0]
            for pk, token in batch:
                if not token:
                    continue
                if crypto.is_current(token):
                    current += 1
                    continue
                try:
                    new_token = crypto.rotate(token)
                except InvalidToken:
                    failures.append(f"{label} of pk={pk}")
                    continue
                # Only if the row still holds the token we read: a concurrent save wrote a
                # value under the current key, which must not be overwritten.
                updated = (
                    model._base_manager.filter(pk=pk)
                    .filter(Exact(raw(field), token))
                    .update(**{field.attname: models.Value(new_token, models.TextField())})
                )
                if updated:
                    rotated += 1
                else:
                    changed += 1
        summary = f"{label}: {rotated} re-encrypted, {current} already current"
        if changed:
            summary += f", {changed} skipped (changed or deleted while running)"
        if failures:
            summary += f", {len(failures)} undecryptable"
        self.stdout.write(summary)
        return failures
