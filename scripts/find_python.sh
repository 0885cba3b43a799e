#!/usr/bin/env bash
# Print the path of a Python >= 3.12: python3.13, python3.12, python3 if new enough,
# else the newest installed pyenv version. Exit 1 with a one-line message if none.
set -u
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
for candidate in python3.13 python3.12 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && ok "$candidate"; then
    "$candidate" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
pyenv_root="${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}"
for candidate in $(ls -d "$pyenv_root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
  if ok "$candidate/bin/python3"; then
    echo "$candidate/bin/python3"
    exit 0
  fi
done
echo "Chairfill needs Python 3.12 or newer: install python3.13 (or 3.12) and run make again." >&2
exit 1
