#!/usr/bin/env bash
# The project's one test command: makes sure PostgreSQL, Redis (plain and TLS) and WebDAV (Apache httpd with
# mod_dav) run on loopback (installing them from Debian packages on a fresh machine), then runs
# fmt check, clippy and every test.
# Idempotent; prints what it installs and starts. Run as root on Debian, or as a user on a
# machine where the services already run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test.sh] %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port what
  for _ in $(seq 1 60); do
    if port_open "$1" "$2"; then return 0; fi
    sleep 0.5
  done
  say "ERROR: $3 did not come up on $1:$2"; return 1
}

# --- toolchain pieces -------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || { say "ERROR: cargo not found; install Rust (rustup) first"; exit 1; }
if ! command -v cc >/dev/null 2>&1; then apt_install build-essential; fi
# TLS to PostgreSQL verifies against the system roots (a test builds such a reader).
if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then apt_install ca-certificates; fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then say "adding rustfmt and clippy"; rustup component add rustfmt clippy; fi
fi

# --- PostgreSQL -------------------------------------------------------------------------------
if port_open $PG_HOST $PG_PORT; then
  say "PostgreSQL already running on $PG_HOST:$PG_PORT: using it"
else
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then apt_install postgresql; fi
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  if ! ls /etc/postgresql/"$ver"/main >/dev/null 2>&1; then
    say "creating PostgreSQL $ver cluster 'main'"
    $SUDO pg_createcluster "$ver" main --port $PG_PORT >/dev/null
  fi
  conf=/etc/postgresql/$ver/main
  # Loopback only, trust auth for the local test user.
  $SUDO sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  if ! $SUDO grep -q 'engage-connector tests' "$conf/pg_hba.conf"; then
    $SUDO sed -i '1i # engage-connector tests: trust on loopback\nhost all all 127.0.0.1/32 trust\nlocal all all trust' "$conf/pg_hba.conf"
  fi
  # TLS with a certificate for `localhost` (a test reads the Config DB over verified TLS).
  if ! $SUDO test -s "$conf/engage-localhost.crt"; then
    command -v openssl >/dev/null 2>&1 || apt_install openssl
    say "creating a self-signed TLS certificate for localhost"
    $SUDO openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost -extensions v3_req \
      -addext subjectAltName=DNS:localhost \
      -keyout "$conf/engage-localhost.key" -out "$conf/engage-localhost.crt" 2>/dev/null
    $SUDO chown postgres:postgres "$conf/engage-localhost.key" "$conf/engage-localhost.crt"
    $SUDO chmod 600 "$conf/engage-localhost.key"
    $SUDO chmod 644 "$conf/engage-localhost.crt"
  fi
  $SUDO mkdir -p "$conf/conf.d"
  printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" \
    "$conf/engage-localhost.crt" "$conf/engage-localhost.key" | $SUDO tee "$conf/conf.d/engage-tls.conf" >/dev/null
  say "starting PostgreSQL $ver on $PG_HOST:$PG_PORT"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
  wait_port $PG_HOST $PG_PORT PostgreSQL
fi
export ENGAGE_TEST_PG="${ENGAGE_TEST_PG:-host=$PG_HOST port=$PG_PORT user=postgres dbname=postgres}"

# --- Redis ------------------------------------------------------------------------------------
if port_open 127.0.0.1 $REDIS_PORT; then
  say "Redis already running on 127.0.0.1:$REDIS_PORT: using it"
else
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  say "starting Redis on 127.0.0.1:$REDIS_PORT (no persistence)"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/engage-test.log
  wait_port 127.0.0.1 $REDIS_PORT Redis
fi
export ENGAGE_TEST_REDIS="${ENGAGE_TEST_REDIS:-redis://127.0.0.1:$REDIS_PORT/}"

# --- Redis over TLS: a second server on 127.0.0.1:6390, certificate for localhost -------------
# Signed by a CA made here; the store's TLS test verifies the server against that CA (and is
# refused with another). No persistence, loopback only.
REDIS_TLS_PORT=6390
if [ "$(id -u)" -eq 0 ]; then rtls_dir=/var/lib/engage-redis-tls; else rtls_dir="${TMPDIR:-/tmp}/engage-redis-tls-$(id -u)"; fi
if port_open 127.0.0.1 $REDIS_TLS_PORT && [ -s "$rtls_dir/ca.crt" ] && [ -s "$rtls_dir/redis.pid" ] \
   && kill -0 "$(cat "$rtls_dir/redis.pid")" 2>/dev/null; then
  say "Redis (TLS) already running on 127.0.0.1:$REDIS_TLS_PORT: using it"
elif port_open 127.0.0.1 $REDIS_TLS_PORT; then
  say "ERROR: 127.0.0.1:$REDIS_TLS_PORT is taken by a server this script did not start (its certificate"
  say "       would not match $rtls_dir/ca.crt); stop it, or point ENGAGE_TEST_REDIS_TLS and"
  say "       ENGAGE_TEST_REDIS_TLS_CA / _OTHER_CA at it"
  exit 1
else
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  mkdir -p "$rtls_dir"
  if [ ! -s "$rtls_dir/server.crt" ]; then
    say "creating a test CA and a Redis TLS certificate for localhost in $rtls_dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=engage-test-ca \
      -keyout "$rtls_dir/ca.key" -out "$rtls_dir/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
      -keyout "$rtls_dir/server.key" -out "$rtls_dir/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$rtls_dir/ext.cnf"
    openssl x509 -req -in "$rtls_dir/server.csr" -CA "$rtls_dir/ca.crt" -CAkey "$rtls_dir/ca.key" \
      -CAcreateserial -days 3650 -extfile "$rtls_dir/ext.cnf" -out "$rtls_dir/server.crt" 2>/dev/null
    # A second, unrelated CA: the test proves a server signed by another CA is refused.
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=engage-other-ca \
      -keyout "$rtls_dir/other-ca.key" -out "$rtls_dir/other-ca.crt" 2>/dev/null
  fi
  say "starting Redis over TLS on 127.0.0.1:$REDIS_TLS_PORT (no persistence)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port $REDIS_TLS_PORT \
    --tls-cert-file "$rtls_dir/server.crt" --tls-key-file "$rtls_dir/server.key" \
    --tls-ca-cert-file "$rtls_dir/ca.crt" --tls-auth-clients no --save "" --appendonly no \
    --dir "$rtls_dir" --logfile "$rtls_dir/redis.log" --pidfile "$rtls_dir/redis.pid"
  wait_port 127.0.0.1 $REDIS_TLS_PORT "Redis (TLS)"
fi
export ENGAGE_TEST_REDIS_TLS="${ENGAGE_TEST_REDIS_TLS:-rediss://localhost:$REDIS_TLS_PORT/}"
export ENGAGE_TEST_REDIS_TLS_CA="${ENGAGE_TEST_REDIS_TLS_CA:-$rtls_dir/ca.crt}"
export ENGAGE_TEST_REDIS_TLS_OTHER_CA="${ENGAGE_TEST_REDIS_TLS_OTHER_CA:-$rtls_dir/other-ca.crt}"

# --- WebDAV (Apache httpd + mod_dav): EXRP's transient recording storage ----------------------
# A standalone httpd from scripts/webdav/httpd.conf (the guide's sample: /recordings, DAV On,
# basic auth), never the system's own Apache site. Tests PUT recordings there and EXRP GETs them.
WEBDAV_PORT=8090
WEBDAV_USER=webdav
WEBDAV_PASSWORD=webdav-secret
if port_open 127.0.0.1 $WEBDAV_PORT; then
  say "WebDAV already running on 127.0.0.1:$WEBDAV_PORT: using it"
else
  if [ ! -x /usr/sbin/apache2 ] || ! command -v htpasswd >/dev/null 2>&1; then apt_install apache2 apache2-utils; fi
  if [ "$(id -u)" -eq 0 ]; then
    dav_dir=/var/lib/engage-webdav; dav_user=www-data; dav_group=www-data
  else
    dav_dir="${TMPDIR:-/tmp}/engage-webdav-$(id -u)"; dav_user="$(id -un)"; dav_group="$(id -gn)"
  fi
  mkdir -p "$dav_dir/recordings"
  htpasswd -cbB "$dav_dir/htpasswd" "$WEBDAV_USER" "$WEBDAV_PASSWORD" 2>/dev/null
  if [ "$(id -u)" -eq 0 ]; then chown -R "$dav_user:$dav_group" "$dav_dir"; fi
  sed -e "s|@DIR@|$dav_dir|g" -e "s|@PORT@|$WEBDAV_PORT|g" -e "s|@USER@|$dav_user|g" \
    -e "s|@GROUP@|$dav_group|g" scripts/webdav/httpd.conf > "$dav_dir/httpd.conf"
  say "starting WebDAV (Apache httpd, mod_dav) on 127.0.0.1:$WEBDAV_PORT, files in $dav_dir/recordings"
  APACHE_LOG_DIR="$dav_dir" /usr/sbin/apache2 -f "$dav_dir/httpd.conf" -k start
  wait_port 127.0.0.1 $WEBDAV_PORT WebDAV
fi
export ENGAGE_TEST_WEBDAV="${ENGAGE_TEST_WEBDAV:-http://$WEBDAV_USER:$WEBDAV_PASSWORD@127.0.0.1:$WEBDAV_PORT/recordings}"

# --- nginx: the load balancer of the N+1 EXRP test (deploy/nginx/exrp-lb.conf.template) -------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then apt_install nginx-light; fi

# --- checks and tests -------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "the call model stays pure: no HTTP stack or async runtime among its dependencies"
if cargo tree -e normal -p engage-callmodel --all-features --locked | grep -E 'reqwest|tokio|hyper'; then
  say "ERROR: engage-callmodel depends on the crates above (gcex must come without 'client')"; exit 1
fi
say "gcex builds as models only (no default features)"
cargo clippy -p gcex --no-default-features --locked --quiet -- -D warnings
say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "cargo clippy + unit tests of the MS SQL Server driver (feature mssql; no server in CI)"
cargo clippy -p engage-cfgdb --features mssql --all-targets --locked --quiet -- -D warnings
cargo test -p engage-cfgdb --features mssql --lib --locked --quiet mssql
say "cargo clippy + unit tests of the Oracle driver (feature oracle; no server in CI)"
cargo clippy -p engage-cfgdb --features oracle --all-targets --locked --quiet -- -D warnings
cargo test -p engage-cfgdb --features oracle --lib --locked --quiet oracle
say "production binaries link no simulator or emulator (cargo tree)"
no_test_doubles() { # package [cargo tree flags...]
  local pkg=$1; shift
  local found
  found=$(cargo tree -e normal -p "$pkg" "$@" --locked -f '{p} [{f}]' --prefix none \
    | grep -E '^engage-sim |\[[^]]*\b(sim|emulator|seed)\b[^]]*\]' || true)
  if [ -n "$found" ]; then
    say "ERROR: $pkg links a simulator, the GC emulator or the Config DB seeder:"; echo "$found"; exit 1
  fi
}
no_test_doubles engage-connector
no_test_doubles engage-excs
no_test_doubles engage-exas
no_test_doubles engage-excp
no_test_doubles engage-exrp
no_test_doubles engage-exec --no-default-features
say "protocol crates without the client feature: sans-IO, no tokio"
for crate in engage-tlib engage-statserver; do
  cargo build -p "$crate" --no-default-features --locked --quiet
  cargo clippy -p "$crate" --no-default-features --locked --quiet -- -D warnings
  if cargo tree -e normal -p "$crate" --no-default-features --locked | grep -q -E '(^|[^-[:alnum:]_])tokio'; then
    say "ERROR: $crate --no-default-features depends on tokio:"
    cargo tree -e normal -p "$crate" --no-default-features --locked -i tokio || true
    exit 1
  fi
done
say "cargo check of the fuzz targets (cargo-fuzz layout, outside the workspace)"
(cd fuzz && cargo check --bins --quiet)  # fuzz/Cargo.lock follows the libraries; not enforced
say "cargo test (doc tests, then every unit, integration and end-to-end test)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# The EXCS end-to-end suite runs twice: on the SCIM path (the default) with the rest, then on
# the Users API path (EXCS_USER_API=users, issue 17).
{ cargo test --workspace --doc --locked && cargo test --workspace --all-targets --locked \
  && ENGAGE_TEST_EXCS_USER_API=users cargo test -p engage-connector --test excs_e2e --locked; } 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$log")
failed=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$log")
if [ "$rc" -ne 0 ]; then say "tests FAILED (exit $rc)"; echo "tests: ${passed:-0} passed, ${failed:-1} failed"; exit "$rc"; fi
say "deployment files (deploy/): nginx -t, systemd-analyze, promtool, compose and Kubernetes schemas, settings vs. the code"
dlog=$(mktemp)
if ! scripts/check-deploy.sh > "$dlog" 2>&1; then
  grep -E 'FAIL|ERROR' "$dlog" || true; tail -n 5 "$dlog"; rm -f "$dlog"; exit 1
fi
grep -E 'skip' "$dlog" || true; tail -n 1 "$dlog"; rm -f "$dlog"
say "all checks passed"
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
