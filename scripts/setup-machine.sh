#!/usr/bin/env bash
# Installs the Debian packages the dev stack and the tests run, where they are missing:
# nginx (the router), supervisor (the host platform's service manager), PostgreSQL (the
# ledger and the tests' throwaway clusters), and for the real-engine tests a private
# Docker engine, a registry on loopback, busybox for the images they build, systemd's
# systemd-analyze and iproute2, sshd for a loopback remote host, and python3-venv for the
# virtualenv of moto (the AWS API the AWS tests run against), and git, which the
# promote and rollback drivers commit the stack file with, and zstd, which compresses
# pg_dump's archive on a core of its own while the dump streams, and debootstrap, which makes
# the Debian base the release runner image is built on here (scripts/runner-image.sh: no image
# registry to pull one from). Nothing else, and nothing when all are there.
set -euo pipefail
packages=(postgresql nginx-light supervisor systemd iproute2 docker.io docker-registry busybox-static ca-certificates openssh-server python3-venv git zstd debootstrap)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)
echo "setup: installing ${missing[*]} from Debian" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
