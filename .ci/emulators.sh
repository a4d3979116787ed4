#!/usr/bin/env bash
# Start or stop the Pub/Sub and Firestore emulators for CI.   Usage: .ci/emulators.sh start|stop
#
# start: picks free ports (or PUBSUB_PORT / FIRESTORE_PORT), starts both emulators in their own process groups
#        (setsid), waits until each answers GET / with "Ok" (EMULATOR_START_TIMEOUT seconds, default 90; on
#        failure prints the emulator's log and exits 1), writes pids, ports and the export lines to the state
#        dir (.ci/.state: pubsub.pid, firestore.pid, env) and prints the export lines.
# stop:  TERMs each emulator's whole process group (gcloud's wrapper and its Java child), KILLs what is left.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${EMULATOR_STATE_DIR:-$here/.state}"
timeout_s="${EMULATOR_START_TIMEOUT:-90}"
export CLOUDSDK_CONFIG="$state/gcloud" CLOUDSDK_CORE_DISABLE_PROMPTS=1 NO_GCE_CHECK=true

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

answering() {  # host
  [ "$(curl -fsS --max-time 2 "http://$1/" 2>/dev/null || true)" = "Ok" ]
}

wait_ready() {  # name host pid logfile
  local deadline=$((SECONDS + timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if answering "$2"; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "the $1 emulator exited before answering on $2; its log:" >&2
      cat "$4" >&2 || true
      return 1
    fi
    sleep 0.25
  done
  echo "the $1 emulator did not answer on $2 within ${timeout_s}s; its log:" >&2
  cat "$4" >&2 || true
  return 1
}

launch() {  # name port command...
  local name="$1" port="$2"
  shift 2
  setsid "$@" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
  echo "$port" >"$state/$name.port"
}

start() {
  command -v gcloud >/dev/null || { echo "gcloud is not installed: cannot start the emulators" >&2; exit 1; }
  command -v curl >/dev/null || { echo "curl is needed for the readiness check" >&2; exit 1; }
  stop  # a previous run's leftovers, if any
  rm -rf "$state/pubsub-data"
  mkdir -p "$state/pubsub-data" "$state/gcloud"
  local pubsub_port="${PUBSUB_PORT:-$(free_port)}" firestore_port="${FIRESTORE_PORT:-$(free_port)}"
  if [ "$pubsub_port" = "$firestore_port" ]; then firestore_port="$(free_port)"; fi
  launch pubsub "$pubsub_port" gcloud beta emulators pubsub start --host-port="127.0.0.1:$pubsub_port" \
    --project=autosre-ci --data-dir="$state/pubsub-data"
  launch firestore "$firestore_port" gcloud emulators firestore start --host-port="127.0.0.1:$firestore_port"
  wait_ready pubsub "127.0.0.1:$pubsub_port" "$(cat "$state/pubsub.pid")" "$state/pubsub.log" || { stop; exit 1; }
  wait_ready firestore "127.0.0.1:$firestore_port" "$(cat "$state/firestore.pid")" "$state/firestore.log" \
    || { stop; exit 1; }
  {
    echo "export PUBSUB_EMULATOR_HOST=127.0.0.1:$pubsub_port"
    echo "export FIRESTORE_EMULATOR_HOST=127.0.0.1:$firestore_port"
  } >"$state/env"
  cat "$state/env"
}

group_alive() {  # pgid: true while a live (non-zombie) emulator process of that group is left
  ps -o stat=,args= -g "$1" 2>/dev/null | grep -v '^Z' | grep -q 'emulator'
}

stop() {
  local name pidfile pid
  for name in pubsub firestore; do
    pidfile="$state/$name.pid"
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    if [ -n "$pid" ] && group_alive "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do group_alive "$pid" || break; sleep 0.25; done
      if group_alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile" "$state/$name.port"
  done
  rm -f "$state/env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
