#!/usr/bin/env bash
# Records, through tmux, the progress bar of `events replay` over 100,000 events
# on a terminal, Ctrl-C stopping a chunked replay, and `events resume` finishing it.
#
#   scripts/replay-progress-tmux.sh            # prints the captured screens
#
# Uses the example application's `events` binary and its `seed` example,
# PostgreSQL from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# and a database of its own, `events_tmux_demo`, dropped at the end. Installs
# tmux with apt-get when it is missing (and says so when it cannot).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS_COUNT=${EVENTS_COUNT:-100000}
SESSION=events-progress-demo
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
admin_url=$base
export PGOPTIONS="-c client_min_messages=warning"
db_url="${base%/*}/events_tmux_demo"

if ! command -v tmux >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing tmux" >&2
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tmux >/dev/null
  else
    echo "tmux is not installed and apt-get is not available: install tmux first" >&2
    exit 1
  fi
fi

cargo build -q -p events-examples --bin events --example seed
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
events="$target/debug/events"
seed="$target/debug/examples/seed"

psql "$admin_url" -qc "DROP DATABASE IF EXISTS events_tmux_demo WITH (FORCE)" -c "CREATE DATABASE events_tmux_demo" >/dev/null
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS events_tmux_demo WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
DATABASE_URL=$db_url "$seed" --users "$((EVENTS_COUNT - 10))" >/dev/null

tmux kill-session -t "$SESSION" 2>/dev/null || true
tmux new-session -d -s "$SESSION" -x 110 -y 12 -e "DATABASE_URL=$db_url" -e "PS1=$ "
tmux send-keys -t "$SESSION" "PS1='$ '; alias events=$events; clear" Enter
sleep 0.5

# Waits until the pane shows $1 (at most $2 seconds).
wait_for() {
  for _ in $(seq 1 $(($2 * 10))); do
    tmux capture-pane -p -t "$SESSION" | grep -q "$1" && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$1'" >&2
  tmux capture-pane -p -t "$SESSION" >&2
  return 1
}
capture() {
  echo "----- $1"
  tmux capture-pane -p -t "$SESSION" | sed -e 's/[[:space:]]*$//' | sed -e '/./,$!d' | cat -s
}

tmux send-keys -t "$SESSION" "events replay --yes" Enter
wait_for "ETA" 30
sleep 4
capture "events replay, a few seconds in"
wait_for "^replayed" 600
capture "events replay, done"

tmux send-keys -t "$SESSION" "clear; events replay --yes --chunks 10000" Enter
wait_for "ETA" 30
sleep 6
capture "events replay --chunks 10000, before Ctrl-C"
tmux send-keys -t "$SESSION" C-c
wait_for "interrupted" 30
capture "after Ctrl-C"

tmux send-keys -t "$SESSION" "clear; events status | grep replay:; events resume" Enter
wait_for "ETA" 30
sleep 3
capture "events resume, running"
wait_for "^resumed" 600
capture "events resume, done"
