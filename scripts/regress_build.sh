#!/usr/bin/env bash
# The prompt regression gate of CI (make build first): starts `mangaassist serve --from-build` on free ports, runs
# the whole golden set with `mangaassist regress` against the committed baseline
# (shared/mangaassist/quality/baseline.json), stops the stack. Exit 1 on any critical regression.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/built_stack.sh
"$BIN/mangaassist" regress --url "http://127.0.0.1:$port" --aws-url "http://127.0.0.1:$aws_port" \
  --chart "${REGRESS_CHART:-/tmp/mangaassist-regress.png}" "$@"
