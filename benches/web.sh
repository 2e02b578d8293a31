#!/usr/bin/env bash
# Throughput and latency of the public catalogue (the page /katalog and GET /api/v1/catalog)
# and of a logged-in municipality's start page (/kommune), with wrk on loopback
# (64 connections, 30 s each), beside nginx serving the same bytes as static files on the
# same machine in the same run.
#
#   benches/web.sh            (needs wrk and nginx: apt-get install wrk nginx)
#   DURATION=10s benches/web.sh
#
# The application runs from the release build on embedded SQLite with the real reference
# data and the demo data (a fresh data folder in /tmp), logging off.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
APP_PORT=${APP_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install wrk nginx curl)"; exit 1; }
done

cargo build --release --quiet
work=$(mktemp -d /tmp/nachnutzung-web-bench.XXXXXX)
cleanup() {
  [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

NACHNUTZUNG_DATA_DIR="$work/data" \
NACHNUTZUNG_DATABASE_URL="sqlite://$work/data/bench.db" \
NACHNUTZUNG_SEED_DEMO_AGREEMENTS=true \
ROCKET_PORT=$APP_PORT ROCKET_LOG_LEVEL=off \
  target/release/nachnutzung serve > "$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$APP_PORT/katalog" -o /dev/null && break
  sleep 0.2
done

# A municipality user's session (the demo user of Dortmund). The release build marks the
# cookies Secure, which curl would not send over http: they are carried by hand.
cookie() { grep -i "^set-cookie: $1=" "$2" | head -1 | tr -d '\r' | sed 's/^[^=]*=//; s/;.*//'; }
curl -s -D "$work/h1" -o "$work/login.html" "http://127.0.0.1:$APP_PORT/anmelden"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$work/login.html" | head -1 | sed 's/.*value="//;s/"//')
curl -s -D "$work/h2" -o /dev/null -H "Cookie: nnr_csrf=$(cookie nnr_csrf "$work/h1")" \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=dortmund@demo.nachnutzung.de" \
  --data-urlencode "password=$(cat "$work/data/demo-password")" \
  "http://127.0.0.1:$APP_PORT/anmelden"
session=$(cookie nnr_sitzung "$work/h2")
[ -n "$session" ] || { echo "login failed"; cat "$work/app.log"; exit 1; }

# The same bytes as static files for nginx.
mkdir -p "$work/www/api/v1"
curl -sf "http://127.0.0.1:$APP_PORT/katalog" -o "$work/www/katalog.html"
curl -sf "http://127.0.0.1:$APP_PORT/api/v1/catalog" -o "$work/www/api/v1/catalog.json"
curl -sf -H "Cookie: nnr_sitzung=$session" "http://127.0.0.1:$APP_PORT/kommune" -o "$work/www/kommune.html"
# nginx's workers run as an unprivileged user: let them read the files.
chmod a+rx "$work" "$work/www" "$work/www/api" "$work/www/api/v1"
chmod a+r "$work"/www/*.html "$work/www/api/v1/catalog.json"
cat > "$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { text/html html; application/json json; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/www;
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5

run() { # name url [header]
  local name=$1 url=$2
  shift 2
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses/ { print $5 }' <<<"$out")
  printf '%-38s %12s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores ($(uname -m)), $(date -u +%F)"
echo "sizes: katalog.html $(stat -c %s "$work/www/katalog.html") B, catalog.json $(stat -c %s "$work/www/api/v1/catalog.json") B, kommune.html $(stat -c %s "$work/www/kommune.html") B"
run "nginx  /katalog.html (static)" "http://127.0.0.1:$NGINX_PORT/katalog.html"
run "app    /katalog" "http://127.0.0.1:$APP_PORT/katalog"
run "nginx  /api/v1/catalog.json (static)" "http://127.0.0.1:$NGINX_PORT/api/v1/catalog.json"
run "app    GET /api/v1/catalog" "http://127.0.0.1:$APP_PORT/api/v1/catalog"
run "nginx  /kommune.html (static)" "http://127.0.0.1:$NGINX_PORT/kommune.html"
grep -q "Meine Kommune: Stadt Dortmund" "$work/www/kommune.html" || { echo "not logged in"; exit 1; }
run "app    /kommune (logged in, Dortmund)" "http://127.0.0.1:$APP_PORT/kommune" -H "Cookie: nnr_sitzung=$session"
