# Sourced by smoke_build.sh and regress_build.sh (make build first): starts `mangaassist serve --from-build` on free
# ports, waits for /health and stops it when the sourcing script exits. Sets BIN, port and aws_port.
BIN=${VENV:-.venv}/bin
free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
aws_port=$(free_port)
log=$(mktemp)
"$BIN/mangaassist" serve --from-build --port "$port" --aws-port "$aws_port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$log"; echo "$(basename "$0" .sh): the stack did not start" >&2; exit 1
  fi
  sleep 1
done
