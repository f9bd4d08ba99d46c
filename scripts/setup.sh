#!/usr/bin/env bash
# Set up MangaAssist on a fresh machine: a Python 3.12 venv (the Lambda runtime's version) with the
# project and its dev tools at the locked versions (requirements/dev.txt, which agrees with the layer's
# shared/requirements.txt and the runtime's boto3), the SAM CLI in a venv of its own (.venv-sam: it pins
# boto3 exactly), and redis-server / Chromium when they can be had. Idempotent: a second run only checks.
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
stamp="$VENV/.installed-$(cat pyproject.toml requirements/dev.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing MangaAssist and its dev tools into $VENV (locked: requirements/dev.txt)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null || true
  "$VENV/bin/python" -m pip install --quiet --require-hashes -r requirements/dev.txt
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
SAM_VENV=${SAM_VENV:-.venv-sam}
if [ ! -x "$SAM_VENV/bin/python" ]; then
  "$(find_python)" -m venv "$SAM_VENV"
fi
sam_stamp="$SAM_VENV/.installed-$(sha256sum < requirements/sam.txt | cut -c1-16)"
if [ ! -f "$sam_stamp" ]; then
  echo "setup: installing the SAM CLI into $SAM_VENV (locked: requirements/sam.txt)"
  "$SAM_VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r requirements/sam.txt  # the lock lists every dependency
  rm -f "$SAM_VENV"/.installed-*
  touch "$sam_stamp"
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
