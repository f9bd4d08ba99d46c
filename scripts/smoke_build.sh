#!/usr/bin/env bash
# The post-deploy smoke test, against the local stack running the `sam build` output (make build first):
# starts `mangaassist serve --from-build` on free ports, runs `mangaassist smoke` over its WebSocket, stops it.
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
  if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "smoke: the stack did not start" >&2; exit 1; fi
  sleep 1
done
# One turn first: it starts every function's environment cold (the first turn may get the fallback when the
# cold starts pass the turn's deadline); the smoke test then checks a warm stack.
"$BIN/mangaassist" chat "Hello!" --url "http://127.0.0.1:$port" >/dev/null 2>&1 || true
"$BIN/mangaassist" smoke --ws-url "ws://127.0.0.1:$port/ws" --timeout 60
