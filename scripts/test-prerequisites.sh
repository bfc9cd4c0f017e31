#!/usr/bin/env bash
# What `npm test` needs that npm cannot install, made ready before the suites run: PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (the job-store suites), started when they are down,
# Debian's Chromium at /usr/bin/chromium (the Swagger UI browser test) and tmux (the CLI's terminal
# test), installed when missing and this user may install packages. Otherwise it stops at once with
# one line naming what to start or install, and the command that does it.
set -uo pipefail

POSTGRES_START='pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
REDIS_START='redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
CHROMIUM=/usr/bin/chromium
TMUX_BIN=/usr/bin/tmux

fail() {
  echo "npm test: $1" >&2
  exit 1
}

# Whether something accepts connections on 127.0.0.1:$1 (bash's own /dev/tcp: no client needed).
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Debian's package $1 when $2 is missing, as root or through password-less sudo; else one line naming
# the command that installs it ($3: what needs it).
install_missing() {
  if [ ! -x "$2" ]; then
    if command -v apt-get >/dev/null 2>&1 && as_root true; then
      echo "npm test: installing Debian's $1 for $3 (apt-get install -y $1)" >&2
      # One package list update for all the installs of this run.
      if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq >&2 && APT_UPDATED=1; fi
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >&2
    fi
    [ -x "$2" ] || fail "$1 is missing at $2 ($3 needs it): install it with: sudo apt-get install -y $1"
  fi
}

# Root runs a command as it is; another user only through sudo without a password prompt.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

wait_for_port() {
  for _ in $(seq 1 100); do
    listening "$1" && return 0
    sleep 0.1
  done
  return 1
}

if ! listening 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "npm test: starting PostgreSQL ($POSTGRES_START)" >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start >&2 || true
  fi
  wait_for_port 5432 || fail "PostgreSQL is not running on 127.0.0.1:5432 (trust auth, database test): start it with: $POSTGRES_START"
fi

if ! listening 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "npm test: starting Redis ($REDIS_START)" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >&2 || true
  fi
  wait_for_port 6379 || fail "Redis is not running on 127.0.0.1:6379: start it with: $REDIS_START"
fi

install_missing chromium "$CHROMIUM" "the Swagger UI browser test"
install_missing tmux "$TMUX_BIN" "the CLI's terminal test"
