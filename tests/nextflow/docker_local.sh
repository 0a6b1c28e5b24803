#!/usr/bin/env bash
# A Docker engine on this machine, for the pipeline tests: Debian's dockerd with no bridge network
# (tasks need none) and its own data root, kept between runs so that built images are reused.
# Needs root and the docker.io package.
#
#   tests/nextflow/docker_local.sh up   DIR    # start dockerd unless one answers; DIR holds its pid file and log
#   tests/nextflow/docker_local.sh down DIR    # stop the dockerd that `up` started (none other)
#
# Data root: $LAMBDA_HAT_DOCKER_ROOT, default /var/lib/lambda-hat-docker.
set -euo pipefail
action="${1:?usage: docker_local.sh up|down DIR}"
base="$(mkdir -p "${2:?usage: docker_local.sh up|down DIR}" && cd "$2" && pwd)"

up() {
    if docker info >/dev/null 2>&1; then
        echo "docker_local.sh: a Docker engine answers already; using it" >&2
        return
    fi
    [ "$(id -u)" -eq 0 ] || { echo "docker_local.sh: starting dockerd needs root" >&2; exit 1; }
    command -v dockerd >/dev/null || { echo "docker_local.sh: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
    local root="${LAMBDA_HAT_DOCKER_ROOT:-/var/lib/lambda-hat-docker}"
    mkdir -p "$root"
    dockerd --storage-driver=overlay2 --bridge=none --iptables=false --ip6tables=false \
        --data-root "$root" --pidfile "$base/dockerd.pid" > "$base/dockerd.log" 2>&1 &
    for _ in $(seq 100); do
        docker info >/dev/null 2>&1 && return
        sleep 0.2
    done
    tail -20 "$base/dockerd.log" >&2
    echo "docker_local.sh: dockerd did not answer within 20 s" >&2
    exit 1
}

down() {
    [ -f "$base/dockerd.pid" ] || return 0
    local pid
    pid="$(cat "$base/dockerd.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$base/dockerd.pid"
}

case "$action" in
    up) up ;;
    down) down ;;
    *) echo "usage: docker_local.sh up|down DIR" >&2; exit 2 ;;
esac
