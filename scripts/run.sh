#!/usr/bin/env bash
# Entry point behind `npm test`, `npm run demo` and `npm run stack`: checks Node, installs the npm
# dependencies when package-lock.json changed, then runs the given TypeScript script with tsx.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "error: Node.js is not installed. fix: install Node.js 20.19 or newer (https://nodejs.org)" >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "error: Node.js $(node --version) is too old. fix: install Node.js 20.19 or newer" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
exec node_modules/.bin/tsx "$@"
