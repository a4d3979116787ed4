#!/usr/bin/env bash
# Start or stop the Pub/Sub and Firestore emulators for CI. Usage: .ci/emulators.sh start|stop
# start prints `export ...` lines for the hosts; state (pids, logs) lives in .ci/.state.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="$here/.state"
PUBSUB_PORT="${PUBSUB_PORT:-8085}"
FIRESTORE_PORT="${FIRESTORE_PORT:-8086}"

wait_ready() {  # name host logfile
  for _ in $(seq 1 240); do
    if curl -fsS "http://$2/" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "the $1 emulator did not come up on $2; its log:" >&2
  tail -50 "$3" >&2 || true
  return 1
}

start() {
  mkdir -p "$state/pubsub-data" "$state/gcloud"
  export CLOUDSDK_CONFIG="$state/gcloud" CLOUDSDK_CORE_DISABLE_PROMPTS=1
  setsid gcloud beta emulators pubsub start --host-port="127.0.0.1:$PUBSUB_PORT" --project=autosre-ci \
    --data-dir="$state/pubsub-data" >"$state/pubsub.log" 2>&1 < /dev/null &
  echo $! > "$state/pubsub.pid"
  setsid gcloud emulators firestore start --host-port="127.0.0.1:$FIRESTORE_PORT" \
    >"$state/firestore.log" 2>&1 < /dev/null &
  echo $! > "$state/firestore.pid"
  wait_ready pubsub "127.0.0.1:$PUBSUB_PORT" "$state/pubsub.log"
  wait_ready firestore "127.0.0.1:$FIRESTORE_PORT" "$state/firestore.log"
  echo "export PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT"
  echo "export FIRESTORE_EMULATOR_HOST=127.0.0.1:$FIRESTORE_PORT"
}

stop() {
  for name in pubsub firestore; do
    pidfile="$state/$name.pid"
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    # started with setsid: the gcloud wrapper leads its own process group; TERM the group (Java included)
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
