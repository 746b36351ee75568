#!/usr/bin/env bash
# Install what voicebus needs to build and test, from Debian 12's packages.
#
# Idempotent: when every package is already installed it changes nothing
# and needs no root.  Otherwise it runs apt-get as root, or through sudo
# when not root.  The package lists are refreshed (apt-get update) only
# when a package is not installable from the lists on this machine, as on
# a fresh container whose lists are empty or stale.
set -euo pipefail

packages=(
	build-essential cmake pkg-config   # compiler, CMake, pkg-config
	libnng-dev nng-utils               # nng: the sockets; nngcat for poking
	libmbedtls-dev                     # SHA-256 of client tokens (nng's TLS uses it too)
	libprotobuf-c-dev protobuf-c-compiler  # protobuf-c and protoc-c
	protobuf-compiler                  # protoc --decode, used by tests
	liblmdb-dev lmdb-utils             # LMDB; mdb_stat, mdb_copy for backups
	check libsubunit-dev               # unit tests
	libjansson-dev libinih-dev libcsv-dev  # JSON, config files, CSV
	openssl                            # test CA and certificates for TLS
)

say() { printf 'deps: %s\n' "$*" >&2; }

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# Whether apt knows a version of $1 to install.
installable() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null |
	    awk '/Candidate:/ { print $2; exit }')
	[ -n "$cand" ] && [ "$cand" != "(none)" ]
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	say "all ${#packages[@]} packages are installed"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	say "apt-get not found: install these by hand: ${missing[*]}"
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		say "not root and no sudo: run as root, or install: ${missing[*]}"
		exit 1
	fi
	sudo=(sudo)
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

need_update=0
for p in "${missing[@]}"; do
	installable "$p" || need_update=1
done
if [ "$need_update" -eq 1 ]; then
	say "refreshing the package lists"
	"${apt[@]}" update -q
fi

say "installing: ${missing[*]}"
if ! "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
	# The lists named versions the mirror no longer has: refresh, retry.
	if [ "$need_update" -eq 0 ]; then
		say "install failed; refreshing the package lists and retrying"
		"${apt[@]}" update -q
		"${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
	else
		exit 1
	fi
fi

for p in "${missing[@]}"; do
	if ! installed "$p"; then
		say "$p is still not installed"
		exit 1
	fi
done
say "installed ${#missing[@]} package(s)"
