#!/usr/bin/env bash
# One and two instances of the release build on one PostgreSQL database behind nginx
# (round robin), side by side in one run: requests per second and latency of a logged-in
# clerk's page mix with wrk (64 connections, 30 s each), on the national dataset.
#
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench benches/cluster.sh
#   DURATION=10s benches/cluster.sh
#
# The database is the pages bench's (`cargo bench --bench pages` generates it once, with
# the bench users). Both instances and nginx and wrk share the machine's cores: on a
# two-core machine a second instance adds no CPU, only a second process to schedule.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench}
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PROFILE=${PROFILE:-release}
PORT_A=${PORT_A:-18091}
PORT_B=${PORT_B:-18092}
PROXY=${PROXY:-18090}
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install wrk nginx curl)"; exit 1; }
done
case "$DB" in postgres*) ;; *) echo "BENCH_DATABASE_URL must be PostgreSQL"; exit 1;; esac

cargo build --profile "$PROFILE" --bin nachnutzung --quiet
bin=target/$([ "$PROFILE" = dev ] && echo debug || echo release)/nachnutzung
work=$(mktemp -d /tmp/nachnutzung-cluster-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A fixed key for the bench database (its shared TEST seal is created under it on the
# first run; another key could not open it). Not a secret: a bench-only database.
secret=${BENCH_SECRET_KEY:-bmFjaG51dHp1bmdzcmVnaXN0ZXItYmVuY2gta2V5LW5pY2h0LWdlaGVpbS1udXItZnVlci1iZW5jaG1hcmtzLg==}
start() {
  mkdir -p "$work/$1"
  NACHNUTZUNG_DATABASE_URL="$DB" NACHNUTZUNG_DATA_DIR="$work/$1" \
  NACHNUTZUNG_SEED_REFERENCE_DATA=false NACHNUTZUNG_SEED_DEMO_AGREEMENTS=false \
  NACHNUTZUNG_MAIL_WORKER_INTERVAL_SECS=0 NACHNUTZUNG_REMINDER_INTERVAL_SECS=0 \
  ROCKET_SECRET_KEY="$secret" ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT=$2 ROCKET_LOG_LEVEL=off \
    "$bin" serve > "$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$2/health/ready" -o /dev/null && return
    sleep 0.2
  done
  echo "instance $1 did not start"; cat "$work/$1.log"; exit 1
}
start a "$PORT_A"
start b "$PORT_B"

proxy() { # the upstream servers
  [ -f "$work/nginx.pid" ] && { kill "$(cat "$work/nginx.pid")"; sleep 0.5; }
  cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream app {
    $(for p in "$@"; do echo "server 127.0.0.1:$p;"; done)
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$PROXY;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work"
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PROXY/health/live" -o /dev/null && return; sleep 0.1; done
}
proxy "$PORT_A"

# The clerk's session, through the proxy (the release build marks cookies Secure, which
# curl would not send over http: they are carried by hand).
cookie() { grep -i "^set-cookie: $1=" "$2" | head -1 | tr -d '\r' | sed 's/^[^=]*=//; s/;.*//'; }
curl -s -D "$work/h1" -o "$work/login.html" "http://127.0.0.1:$PROXY/anmelden"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$work/login.html" | head -1 | sed 's/.*value="//;s/"//')
curl -s -D "$work/h2" -o /dev/null -H "Cookie: nnr_csrf=$(cookie nnr_csrf "$work/h1")" \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=sachbearbeitung@bench.example" \
  --data-urlencode "password=Bench-Passwort-2026!x" "http://127.0.0.1:$PROXY/anmelden"
session=$(cookie nnr_sitzung "$work/h2")
[ -n "$session" ] || { echo "login failed (run cargo bench --bench pages once to create the bench users)"; exit 1; }

# The page mix: the clerk's start page, the lists, the catalogue, one after the other.
cat > "$work/mix.lua" <<LUA
local paths = { "/", "/vereinbarungen", "/vereinbarungen?art=ea", "/kommunen", "/dienste",
                "/aufgaben", "/partner", "/katalog", "/rollout" }
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Cookie"] = "nnr_sitzung=$session" })
end
LUA
# Each page once on each instance first: both build their caches (the roll-out's
# snapshot of a million cells takes seconds) before anything is measured.
for port in "$PORT_A" "$PORT_B"; do
  for p in / /vereinbarungen "/vereinbarungen?art=ea" /kommunen /dienste /aufgaben /partner /katalog /rollout; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: nnr_sitzung=$session" "http://127.0.0.1:$port$p")
    [ "$code" = 200 ] || { echo "$p on $port answered $code"; exit 1; }
  done
done

run() {
  echo "== $1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/mix.lua" "http://127.0.0.1:$PROXY" \
    | grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors"
}
echo "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION; page mix of 9 clerk pages; $(nproc) cores"
run "one instance behind nginx"
proxy "$PORT_A" "$PORT_B"
run "two instances behind nginx (round robin)"
