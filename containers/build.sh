#!/usr/bin/env bash
# Build the pipeline's Docker images, tagged as the profiles expect.
#
#   bash containers/build.sh [cpu|cuda|all] [--base IMAGE | --bootstrap] [--mirror URL]
#
#   cpu   lambda-hat:<version>-cpu   (containers/Dockerfile.cpu: -profile local,docker; CPU partitions)
#   cuda  lambda-hat:<version>       (containers/Dockerfile: GPU hosts, --gpu)
#   all   both                       (default: cpu)
#
# The base image: --base IMAGE, else the official python:3.11-slim when it is present or can be
# pulled, else (no image registry reachable) one bootstrapped from Debian packages: debootstrap
# of Debian bookworm (Python 3.11, as containers/requirements.txt was tested) with a venv at
# /opt/venv first on PATH, imported as lambda-hat-base:bookworm. --bootstrap asks for it directly.
# Bootstrapping needs root and debootstrap, and takes about a minute once: the base is kept and
# reused. It carries this host's pip configuration and CA bundle, so that pip inside the build
# reaches the package index the way this host does (builds run with --network host).
# --mirror: the Debian mirror to bootstrap from (default: the one this host's apt uses).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml")"
official="python:3.11-slim"
bootstrapped="lambda-hat-base:bookworm"
what="cpu"
base=""
bootstrap=false
mirror=""

die() { echo "containers/build.sh: $*" >&2; exit 1; }
say() { echo "containers/build.sh: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        cpu|cuda|all) what="$1"; shift ;;
        --base) [ $# -ge 2 ] || die "--base needs an image name"; base="$2"; shift 2 ;;
        --bootstrap) bootstrap=true; shift ;;
        --mirror) [ $# -ge 2 ] || die "--mirror needs a URL"; mirror="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (expected cpu, cuda, all, --base IMAGE, --bootstrap or --mirror URL)" ;;
    esac
done
[ -n "$base" ] && $bootstrap && die "--base and --bootstrap exclude each other"
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers ('docker info' fails): start dockerd, or join the docker group"

debian_mirror() {
    # the first Debian archive this host's apt reads from (not the security archive)
    apt-cache policy 2>/dev/null | sed -n 's|^ *[0-9]* \(https\{0,1\}://[^ ]*\) bookworm/main .*|\1|p' | head -1
}

host_pip_config() {
    # this host's pip settings (file and environment) as one [global] section; find-links names
    # folders of this host, which the build cannot see
    python3 -m pip config list 2>/dev/null | sed -n "s/^[^.]*\.\([a-z-]*\)='\(.*\)'$/\1 = \2/p" \
        | grep -v '^find-links ' | sort -u -t= -k1,1
}

bootstrap_base() {
    if docker image inspect "$bootstrapped" >/dev/null 2>&1; then
        say "reusing the bootstrapped base $bootstrapped"
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "bootstrapping a base image needs root (debootstrap, chroot); or pass --base IMAGE"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    mirror="${mirror:-$(debian_mirror)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    local rootfs started
    rootfs="$(mktemp -d "${TMPDIR:-/tmp}/lambda-hat-rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    started=$SECONDS
    say "no base image: bootstrapping Debian bookworm from $mirror (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,procps \
        bookworm "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
        || { tail -20 "$rootfs.log" >&2; die "debootstrap failed (log above)"; }
    rm -f "$rootfs.log"
    chroot "$rootfs" python3 -m venv /opt/venv
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    fi
    { echo "[global]"; host_pip_config; } > "$rootfs/etc/pip.conf"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import \
        -c 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' - "$bootstrapped" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    say "bootstrapped $bootstrapped in $((SECONDS - started)) s"
}

if [ -z "$base" ]; then
    if ! $bootstrap && { docker image inspect "$official" >/dev/null 2>&1 || timeout 300 docker pull -q "$official" >/dev/null 2>&1; }; then
        base="$official"
    else
        $bootstrap || say "cannot pull $official (no image registry reachable)"
        bootstrap_base
        base="$bootstrapped"
    fi
fi

build() {   # build <Dockerfile> <tag>
    local started=$SECONDS
    say "building $2 from $1 on $base"
    docker build --network host --build-arg "BASE_IMAGE=$base" -f "$root/containers/$1" -t "$2" "$root"
    say "built $2 in $((SECONDS - started)) s: $(docker image inspect -f '{{.Size}}' "$2" | awk '{printf "%.2f GB", $1 / 1e9}'), code $(docker run --rm "$2" lambda-hat versions | sed -n 's/^lambda-hat: //p') (checkout: $(cd "$root" && python3 -c 'from lambda_hat.provenance import code_version; print(code_version())' 2>/dev/null || echo unknown))"
}

case "$what" in
    cpu) build Dockerfile.cpu "lambda-hat:$version-cpu" ;;
    cuda) build Dockerfile "lambda-hat:$version" ;;
    all) build Dockerfile.cpu "lambda-hat:$version-cpu"; build Dockerfile "lambda-hat:$version" ;;
esac
