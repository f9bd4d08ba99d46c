#!/usr/bin/env bash
# The post-deploy smoke test, against the local stack running the `sam build` output (make build first):
# starts `mangaassist serve --from-build` on free ports, runs `mangaassist smoke` over its WebSocket, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/built_stack.sh
# One turn first: it starts every function's environment cold (the first turn may get the fallback when the
# cold starts pass the turn's deadline); the smoke test then checks a warm stack.
"$BIN/mangaassist" chat "Hello!" --url "http://127.0.0.1:$port" >/dev/null 2>&1 || true
"$BIN/mangaassist" smoke --ws-url "ws://127.0.0.1:$port/ws" --timeout 60
