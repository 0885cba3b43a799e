"""Write a development .env with fresh secrets, once; never overwrite an existing one."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
if path.exists():
    sys.exit(0)
path.write_text(
    "# Development settings, written by `make` on first run. See .env.example for every variable.\n"
    "DEBUG=1\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
)
print(f"Wrote {path} with a new development SECRET_KEY and FIELD_ENCRYPTION_KEYS.")
