#!/usr/bin/env bash
# Runs `npm run demo` as a user types it and checks that it reaches a serving workbench: the printed URL answers with
# the VS Code workbench page for the demo copy (.demo/), code-server's /healthz is up, and Ctrl+C stops everything.
# CI has no desktop `code`, so the demo takes its code-server path (installing the e2e host on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
limit_s=${DEMO_CHECK_TIMEOUT_S:-1200}

# Its own process group, so that the Ctrl+C below reaches npm, the demo script and code-server alike.
setsid npm run demo >"$log" 2>&1 < /dev/null &
group=$!
stop() { kill -INT -- "-$group" 2>/dev/null || true; }
trap 'stop; kill -KILL -- "-$group" 2>/dev/null || true' EXIT

url=""
for _ in $(seq 1 "$limit_s"); do
  url=$(grep -oE 'LoRA Workbench demo: http://[^ ]+' "$log" | head -1 | sed 's/^LoRA Workbench demo: //') || true
  [ -n "$url" ] && break
  if ! kill -0 "$group" 2>/dev/null; then
    cat "$log"
    echo "demo check: npm run demo exited before serving" >&2
    exit 1
  fi
  sleep 1
done
cat "$log"
if [ -z "$url" ]; then
  echo "demo check: no workbench URL after ${limit_s} s" >&2
  exit 1
fi

node - "$url" <<'EOF'
const url = new URL(process.argv[2]);
const folder = url.searchParams.get('folder') ?? '';
const fail = (m) => { console.error(`demo check: ${m}`); process.exit(1); };
if (!/[\\/]\.demo$/.test(folder)) fail(`the demo serves ${folder}, not the fresh copy in .demo/`);
const health = await fetch(new URL('/healthz', url));
if (health.status !== 200) fail(`/healthz answered ${health.status}`);
const page = await fetch(url);
const html = await page.text();
if (page.status !== 200 || !/vs\/code\/browser\/workbench\/workbench/.test(html)) fail(`${url} is not the workbench (HTTP ${page.status})`);
console.log(`demo check: ${url} serves the workbench on ${folder}`);
EOF

stop
for _ in $(seq 1 30); do
  kill -0 "$group" 2>/dev/null || break
  sleep 1
done
if kill -0 "$group" 2>/dev/null; then
  echo "demo check: npm run demo did not stop within 30 s of Ctrl+C" >&2
  exit 1
fi
trap - EXIT
echo "demo check: stopped by Ctrl+C"
