#!/usr/bin/env bash
# The prompt regression gate of CI (make build first): starts `mangaassist serve --from-build` on free ports, runs
# the whole golden set with `mangaassist regress` against the committed baseline
# (shared/mangaassist/quality/baseline.json), stops the stack. Exit 1 on any critical regression.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
aws_port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$BIN/mangaassist" serve --from-build --port "$port" --aws-port "$aws_port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "regress: the stack did not start" >&2; exit 1; fi
  sleep 1
done
"$BIN/mangaassist" regress --url "http://127.0.0.1:$port" --aws-url "http://127.0.0.1:$aws_port" \
  --chart "${REGRESS_CHART:-/tmp/mangaassist-regress.png}" "$@"
