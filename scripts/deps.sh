#!/usr/bin/env bash
# What make test needs besides Go, on Debian: as root it installs what is missing; otherwise
# it stops at once with the exact command to run. make test and make e2e call it first, so
# that a fresh machine with only Go passes `make test` by itself.
set -euo pipefail

missing=()
need() { # need COMMAND PACKAGE [ALTERNATIVE PATH]
	command -v "$1" >/dev/null 2>&1 && return
	[ -n "${3:-}" ] && [ -x "$3" ] && return
	missing+=("$2")
}
need make make
need node nodejs                       # the GOOS=js tests
need unshare util-linux                # loopback-only network namespaces
need ip iproute2 /usr/sbin/ip          # namespaces, veth, routes
need nft nftables /usr/sbin/nft        # NAT topologies (internal/nat)
need chromium chromium /usr/bin/chromium  # the browser suite (e2e/)
need ffmpeg ffmpeg                     # media for the browser and gateway tests
need zsh zsh                           # the zsh completion script's syntax check
need npm npm                           # the npm packages of package.json (axe-core for e2e/)

# npm_deps installs package-lock.json's packages into node_modules/ when they are missing or
# older than the lock file (npm ci: exactly the locked versions, no audit).
npm_deps() {
	cd "$(dirname "$0")/.."
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		echo "installing the npm packages of package-lock.json into node_modules/" >&2
		npm ci --no-audit --no-fund --loglevel=error
	fi
}
[ ${#missing[@]} -eq 0 ] && { npm_deps; exit 0; }

cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "make test needs: ${missing[*]}. Run as root: $cmd" >&2
	exit 1
fi
echo "installing what make test needs: ${missing[*]}" >&2
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" || {
	# Debian's chromium sometimes needs dpkg's dependencies fixed first.
	apt-get --fix-broken install -y -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}
npm_deps
