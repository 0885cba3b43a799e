"""Chairfill settings: everything comes from the environment (see .env.example)."""

from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's .env (written by `make`) fills in what the real environment leaves unset.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if raw.strip().lower() in TRUE_WORDS:
        return True
    if raw.strip().lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}."
    )


def env_int(name, default):
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}.") from None


def env_float(name, default):
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds; got {raw!r}.") from None


def env_required(name):
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(
            f"Set the {name} environment variable (see .env.example; `make` writes a "
            "development .env for you)."
        )
    return value


def env_url(name, parse, default):
    raw = env.str(name, default=default)
    try:
        return parse(raw)
    except Exception as exc:  # environ raises several types for malformed URLs
        raise ImproperlyConfigured(f"{name} is not a valid URL ({exc}).") from None


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_required("SECRET_KEY")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS (comma-separated host names) when DEBUG=0.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of this deployment, used in links sent by email.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
if not SITE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SITE_URL must be a full address such as https://book.example.com.")

# Encryption of secrets at rest (per-center Zenoti keys, webhook secrets). The first key
# encrypts; every key decrypts, so a new key can be put first and the old one kept until
# `manage.py rotate_encryption_keys` has run.
FIELD_ENCRYPTION_KEYS = [k.strip() for k in env_required("FIELD_ENCRYPTION_KEYS").split(",")]
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key #{_position} is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        ) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "tenants",
    "booking",
    "attribution",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tenants-org-picker"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.shell",
            ],
        },
    },
]

DATABASES = {
    "default": env_url(
        "DATABASE_URL", environ.Env.db_url_config, f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    raise ImproperlyConfigured(
        "DATABASE_URL must be a postgres://user:password@host:port/name or sqlite:///path URL."
    )
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and job cluster share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds counters every process must share (login lockouts, later the Zenoti
# rate-limit budget): Redis when configured, else the database — never per-process memory.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://.")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chairfill",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "chairfill_cache",
            # Django's default of 300 entries would cull rate-limit budgets and catalog
            # entries (and their single-flight locks) as soon as a few centers are connected.
            "OPTIONS": {"MAX_ENTRIES": 200_000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3

# Login brute-force protection: after this many failures for one account (or from one
# client address) within the window, further attempts are refused until it has passed.
LOGIN_LOCKOUT_ATTEMPTS = env_int("LOGIN_LOCKOUT_ATTEMPTS", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
# How many reverse proxies in front of us append to X-Forwarded-For. 0 = trust only the
# socket address, so a client cannot pick its own address by sending the header.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
INVITATION_DAYS = env_int("INVITATION_DAYS", 7)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names and far-future caching need `collectstatic`; development and the
        # test suite serve straight from the app folders instead.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not env_bool("STATIC_MANIFEST", not DEBUG)

# Mail: Django 6.1 MAILERS, configured from EMAIL_URL (console in development).
_email = env_url("EMAIL_URL", environ.Env.email_url_config, "consolemail://")
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            key.removeprefix("EMAIL_").lower(): value
            for key, value in _email.items()
            if key in {"EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"}
            or key in {"EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT"}
        }
        if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
        else {},
    }
}
if "host_user" in MAILERS["default"]["OPTIONS"]:
    MAILERS["default"]["OPTIONS"]["username"] = MAILERS["default"]["OPTIONS"].pop("host_user")
    MAILERS["default"]["OPTIONS"]["password"] = MAILERS["default"]["OPTIONS"].pop(
        "host_password", ""
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Chairfill <hello@chairfill.localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [a for a in env.list("ADMINS", default=[]) if a]

# Security headers. Frames are denied everywhere; the widget embed pages override this per
# widget with their allowed origins.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "https:", "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz and /readyz are probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Background jobs: django-q2 with the ORM broker, which re-delivers a task whose worker died.
Q_CLUSTER = {
    "name": "chairfill",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 120),
    "retry": env_int("Q_RETRY", 180),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 500,
    "sync": env_bool("Q_SYNC", False),
    "label": "Jobs",
}
# /readyz reports not ready when the oldest waiting job is older than this.
JOB_BACKLOG_WARN_SECONDS = env_int("JOB_BACKLOG_WARN_SECONDS", 300)

# Zenoti API client. Every call has explicit timeouts; reads are retried within a total deadline.
ZENOTI_CONNECT_TIMEOUT = env_float("ZENOTI_CONNECT_TIMEOUT", 3.0)
ZENOTI_READ_TIMEOUT = env_float("ZENOTI_READ_TIMEOUT", 10.0)
ZENOTI_DEADLINE = env_float("ZENOTI_DEADLINE", 20.0)
# Dotted path of an httpx transport factory for Zenoti calls; None = real HTTP. The test suite
# sets "sandbox.testing.SandboxTransport" to reach the sandbox in-process, without sockets.
ZENOTI_TRANSPORT = None
# Tokens of each Zenoti organization's rate-limit budget kept for guests: background work
# (catalog refreshes) stops when fewer remain.
ZENOTI_BACKGROUND_RESERVE = env_int("ZENOTI_BACKGROUND_RESERVE", 10)
# Days of Zenoti call log kept for the API health page.
ZENOTI_CALL_LOG_DAYS = env_int("ZENOTI_CALL_LOG_DAYS", 14)
# How long the catalog (services, categories, therapists) is served from cache.
CATALOG_TTL_SECONDS = env_int("CATALOG_TTL_SECONDS", 15 * 60)
# How long one day's free times are shared by the guests browsing it (the reservation always
# asks Zenoti again, so this only trades freshness of the list for upstream calls).
AVAILABILITY_TTL_SECONDS = env_int("AVAILABILITY_TTL_SECONDS", 60)
# A guest's unfinished booking session is abandoned after this long without activity.
BOOKING_SESSION_IDLE_HOURS = env_int("BOOKING_SESSION_IDLE_HOURS", 24)

# The Zenoti sandbox (a stateful fake of the Zenoti API, its hosted payment page and fault
# knobs), mounted at /sandbox/. On in development and the demo; off in production.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)

# Outgoing webhooks refuse URLs that point into private networks (loopback, 10/8, the cloud
# metadata address, …) so a customer's endpoint can't reach our own services. On only for
# development, the demo and tests, whose receivers listen on this machine; it also allows http://.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
        # At INFO httpx logs every URL, and Zenoti guest searches carry email and phone in it.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
