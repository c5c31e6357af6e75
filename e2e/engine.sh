#!/usr/bin/env bash
# Ensure a local Docker engine is installed and answering.
#
# Idempotent: installs Debian's docker.io (+ debootstrap, needed by
# base_images.py) only when missing, starts dockerd in the background only
# when the daemon is not answering, and waits for `docker info`.
# Exits non-zero (with the tail of the daemon log) if the engine never comes up.
#
# Env: DOCKERD_LOG (default /tmp/mlplatform-e2e-dockerd.log),
#      DOCKERD_WAIT_SECONDS (default 60).
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/mlplatform-e2e-dockerd.log}"
WAIT="${DOCKERD_WAIT_SECONDS:-60}"
t0=$(date +%s)

log() { echo "[engine] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

# 1. Packages (one apt-get update, only if something is missing).
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # debootstrap needs these at run time; docker.io pulls containerd, runc,
  # iptables, tini via its own dependencies.
  $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" ca-certificates iptables wget >/dev/null
  log "packages installed in $(( $(date +%s) - t0 ))s"
fi

# Prefer Debian's client (same version as the daemon); a newer client that
# happens to be earlier on PATH (e.g. /usr/local/bin/docker) negotiates down,
# but may try BuildKit/buildx, which this engine does not have.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

engine_up() { $DOCKER info >/dev/null 2>&1; }

if engine_up; then
  log "engine already up ($($DOCKER version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

# 2. Start the daemon, unless one is already starting.
if pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd process exists but is not answering yet; waiting"
else
  log "starting dockerd (log: $LOG)"
  # setsid + nohup: the daemon must outlive this script and its shell.
  $SUDO setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

# 3. Wait for it.
deadline=$(( $(date +%s) + WAIT ))
until engine_up; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "ERROR: docker engine did not answer within ${WAIT}s; last lines of $LOG:"
    tail -n 40 "$LOG" >&2 || true
    exit 1
  fi
  sleep 1
done
log "engine up ($($DOCKER version --format '{{.Server.Version}}')) in $(( $(date +%s) - t0 ))s total"
