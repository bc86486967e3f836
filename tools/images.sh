#!/bin/bash
# `make images`: the Debian 12 base image, once, then Tandem's runtime image.
#
#   tandem/debian:bookworm  debootstrap --variant=minbase bookworm, imported
#                           with `docker import` (built once, kept by its tag;
#                           the tarball is tools/test-fresh.sh's cached base)
#   tandem:latest           deploy/Dockerfile: build stage + runtime stage
#   tandem-kamailio:latest  deploy/kamailio/Dockerfile: Kamailio with
#                           deploy/kamailio/kamailio.cfg, the SIP front of a
#                           compose stack with several signaling nodes
#
# No registry is used: nothing is pulled, the Dockerfile builds FROM the base
# image made here. If the Docker daemon is not running (and we are root), it
# is started in the background (log /var/log/dockerd.log) and left running.
#
#   TD_IMAGE  runtime image tag (tandem:latest)
#   TD_BASE   base image tag (tandem/debian:bookworm)
#   TD_FRONT_IMAGE  the front's tag (tandem-kamailio:latest)
#   TD_FRESH_CACHE  where the debootstrap tarball is kept (/var/cache/tandem)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
image=${TD_IMAGE:-tandem:latest}
base=${TD_BASE:-tandem/debian:bookworm}
front=${TD_FRONT_IMAGE:-tandem-kamailio:latest}
cache=${TD_FRESH_CACHE:-/var/cache/tandem}

say() { echo "images: $*"; }
die() { echo "images: $*" >&2; exit 1; }

# What is missing of Debian's docker.io (docker, dockerd) and docker-compose
# is installed (with its Recommends: apparmor, which the daemon needs on a
# kernel with AppArmor on), after an `apt-get update`.
missing=()
{ command -v docker && command -v dockerd; } >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "${missing[*]} not installed (apt-get install ${missing[*]})"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "the Docker daemon is not running and we are not root to start it"
    command -v dockerd >/dev/null || die "dockerd is missing (apt-get install docker.io)"
    # One that runs but does not answer us (DOCKER_HOST elsewhere, a hung
    # daemon) is not started twice: a second would fail on its pid file.
    pid=$(cat /var/run/docker.pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        die "dockerd (pid $pid) runs but 'docker info' fails${DOCKER_HOST:+ with DOCKER_HOST=$DOCKER_HOST}"
    say "starting dockerd (log /var/log/dockerd.log)"
    setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || die "dockerd did not come up; see /var/log/dockerd.log"
fi

if docker image inspect "$base" >/dev/null 2>&1; then
    say "base $base: present"
else
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    tarball=$(TD_FRESH_CACHE=$cache bash "$src/tools/test-fresh.sh" --base-only | tail -n 1) ||
        die "could not make the debootstrap base (tools/test-fresh.sh --base-only)"
    say "importing $tarball as $base"
    docker import -c 'CMD ["/bin/bash"]' - "$base" <"$tarball" >/dev/null
fi

say "building $image"
docker build --build-arg BASE="$base" -f "$src/deploy/Dockerfile" -t "$image" "$src"
say "$image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
say "building $front"
docker build --build-arg BASE="$base" -f "$src/deploy/kamailio/Dockerfile" -t "$front" "$src"
say "$front: $(docker image inspect -f '{{.Size}}' "$front" | awk '{printf "%.0f MB", $1/1e6}')"
