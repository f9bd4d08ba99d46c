#!/usr/bin/env bash
# Set up MangaAssist on a fresh machine: a Python 3.12 venv (the Lambda runtime's
# version) with the project and its dev tools, and redis-server when it can be had.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

find_python() {
  for candidate in "${PYTHON:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
      command -v "$candidate" || echo "$candidate"
      return 0
    fi
  done
  echo "MangaAssist needs Python >= 3.12 (the Lambda runtime is python3.12); set PYTHON=/path/to/python3.12" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  python=$(find_python)
  echo "setup: creating $VENV with $python"
  "$python" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing MangaAssist and its dev tools into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null || true
  "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

# Redis is optional locally (the stack falls back to an in-process cache), so this is best effort.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing redis-server"
    (apt-get install -y -qq redis-server >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1; }) \
      || echo "setup: could not install redis-server; the local stack will use its in-process cache"
  else
    echo "setup: redis-server not found; the local stack will use its in-process cache (apt-get install redis-server to add it)"
  fi
fi
# The web page test drives Debian's Chromium (no browser downloads); without it that test is skipped.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (web page test)"
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }) \
      || echo "setup: could not install chromium; tests/integration/test_web_page.py will be skipped"
  else
    echo "setup: /usr/bin/chromium not found; the web page test will be skipped (apt-get install chromium)"
  fi
fi
echo "setup: ready ($("$VENV/bin/python" --version))"
