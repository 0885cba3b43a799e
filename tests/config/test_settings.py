"""Settings come from the environment and refuse bad values at start with the variable named;
the production posture passes Django's deploy checks with nothing silenced."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "SECRET_KEY": "s" * 20 + "-unique-enough-" + "q1w2e3r4t5y6u7i8o9p0asdfghjklzxcvbnm",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DEBUG": "0",
    "ALLOWED_HOSTS": "book.chairfill.example",
}


# Set for the test run itself (pyproject's pytest env); a production start has none of them.
TEST_RUN_ONLY = {
    "SECURE_SSL_REDIRECT",
    "STATIC_MANIFEST",
    "Q_SYNC",
    "EMAIL_URL",
    "DATABASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run_manage(env_overrides, *args, drop=()):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in GOOD and k not in drop and k not in TEST_RUN_ONLY
    }
    env.update({k: v for k, v in GOOD.items() if k not in drop})
    env.update(env_overrides)
    # A developer's .env must not fill in what the test removes.
    env["ENV_FILE"] = os.devnull
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "overrides,drop,message",
    [
        ({}, ("SECRET_KEY",), "Set the SECRET_KEY environment variable"),
        ({}, ("FIELD_ENCRYPTION_KEYS",), "Set the FIELD_ENCRYPTION_KEYS environment variable"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-key"}, (), "FIELD_ENCRYPTION_KEYS: key #1"),
        ({"DEBUG": "maybe"}, (), "DEBUG must be one of"),
        ({"ALLOWED_HOSTS": ""}, (), "ALLOWED_HOSTS"),
        ({"DATABASE_URL": "mongodb://x/y"}, (), "DATABASE_URL must be"),
        ({"REDIS_URL": "localhost:6379"}, (), "REDIS_URL must start with"),
        ({"LOGIN_LOCKOUT_ATTEMPTS": "five"}, (), "LOGIN_LOCKOUT_ATTEMPTS must be a whole number"),
        ({"SITE_URL": "book.example.com"}, (), "SITE_URL must be a full address"),
        ({"LOG_LEVEL": "LOUD"}, (), "LOG_LEVEL must be"),
    ],
)
def test_bad_environment_fails_at_start_naming_the_variable(overrides, drop, message):
    result = run_manage(overrides, "check", drop=drop)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deploy_checks():
    result = run_manage(
        {
            "SITE_URL": "https://book.chairfill.example",
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.chairfill.example:587",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr
    assert "0 silenced" in result.stdout


def test_console_mail_in_production_is_refused_by_the_deploy_checks():
    result = run_manage({"EMAIL_URL": "consolemail://"}, "check", "--deploy")
    assert result.returncode != 0
    assert "mail.E001" in result.stderr
