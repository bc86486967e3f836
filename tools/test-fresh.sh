#!/bin/bash
# `make test-fresh`: run `make test` from a clean clone of the committed HEAD
# inside a fresh Debian root file system, as root, so that a package the
# tests need and tools/deps.sh does not install fails here instead of hiding
# on a machine that happens to have it.
#
# The base root is made once with debootstrap and kept as a tarball,
#   $TD_FRESH_CACHE/debootstrap-<suite>-<variant>.tar   (default /var/cache/tandem)
# and every run unpacks a pristine copy of it, so nothing of an earlier run
# is reused. Downloaded .deb files are kept in $TD_FRESH_CACHE/apt-archives
# (the packages are still installed afresh by `make test` each time).
#
# The root runs in its own mount, UTS and IPC namespaces, entered with
# pivot_root (not chroot: inside a chroot the kernel refuses the user
# namespaces that tests/sip/config_errors makes with `unshare -rn`). It shares
# the host's network (apt needs the archive) and PIDs, and the host's
# /tmp/tandem-test-ports, so port claims of tests running on the host and in
# the root never collide. Every mount dies with the namespace; the copy is
# removed on exit, failure or Ctrl-C.
#
# Exit status: the inner `make test`'s (1 if the root could not be made).
# With --base-only it only makes sure the cached base exists and prints its
# path (tools/images.sh imports it as the containers' base image).
#
#   TD_FRESH_SUITE    Debian suite (bookworm)
#   TD_FRESH_VARIANT  debootstrap variant (minbase: Essential packages and apt)
#   TD_FRESH_MIRROR   archive URL (default: the one the host's apt sources name)
#   TD_FRESH_KEEP=1   keep the root after the run, for a look inside
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
suite=${TD_FRESH_SUITE:-bookworm}
variant=${TD_FRESH_VARIANT:-minbase}
cache=${TD_FRESH_CACHE:-/var/cache/tandem}
base=$cache/debootstrap-$suite-$variant.tar
t0=$SECONDS

say() { echo "test-fresh: $*"; }
die() { echo "test-fresh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mounts, pivot_root)"
command -v git >/dev/null || die "git is needed to clone the repository"
head=$(git -C "$src" rev-parse HEAD) || die "$src is not a git repository"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
    say "note: uncommitted changes in $src are not tested (a clone of HEAD $head is)"

# The archive the host's apt sources name for this suite (deb822 or one-line
# format), else Debian's CDN. Prints "main-url security-url".
s_mirrors() {
    python3 - "$suite" <<'EOF' 2>/dev/null || echo "http://deb.debian.org/debian http://deb.debian.org/debian-security"
import glob, sys
suite = sys.argv[1]
main = sec = None
def seen(uris, suites):
    global main, sec
    for u in uris:
        for s in suites:
            if s == suite and not main:
                main = u
            if s == suite + "-security" and not sec:
                sec = u
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for f in files:
    try:
        for line in open(f):
            w = line.split("#")[0].split()
            if len(w) >= 3 and w[0] == "deb":
                if w[1].startswith("["):
                    w = [w[0]] + [x for x in w[1:] if "=" not in x and x not in "[]"]
                seen([w[1]], [w[2]])
    except OSError:
        pass
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(f).read().split("\n\n"):
        kv = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith((" ", "#")):
                k, v = line.split(":", 1)
                kv[k.strip().lower()] = v.split()
        if "deb" in kv.get("types", []):
            seen(kv.get("uris", []), kv.get("suites", []))
main = main or "http://deb.debian.org/debian"
sec = sec or main.replace("/debian", "/debian-security")
print(main, sec)
EOF
}

read -r mirror secmirror <<<"$(s_mirrors)"
mirror=${TD_FRESH_MIRROR:-$mirror}

mkdir -p "$cache/apt-archives/partial" || die "cannot create $cache"

# --- the cached base: debootstrap once --------------------------------------
s_make_base() {
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap on the host"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap \
                >/dev/null; } || return 1
    fi
    local tmp
    tmp=$(mktemp -d "$cache/build.XXXXXX") || return 1
    say "debootstrap --variant=$variant $suite from $mirror (once; cached as $base)"
    if ! debootstrap --variant="$variant" "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -rf --one-file-system "$tmp"
        return 1
    fi
    rm -f "$tmp.log"
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    tar -C "$tmp" --numeric-owner -cf "$base.part" . && mv "$base.part" "$base"
    local rc=$?
    rm -rf --one-file-system "$tmp"
    return $rc
}

# One run at a time makes the base; the others wait for it.
exec 8>"$cache/lock"
flock 8
if [ ! -s "$base" ]; then
    s_make_base || die "debootstrap failed (see above)"
    say "base ready after $((SECONDS - t0))s"
fi
flock -u 8
# tools/images.sh imports the same base: it asks for it alone.
if [ "${1:-}" = --base-only ]; then
    echo "$base"
    exit 0
fi

# --- a pristine copy ---------------------------------------------------------
work=$(mktemp -d /var/tmp/tandem-fresh.XXXXXX) || die "mktemp failed"
root=$work/root
inner_pid=

# The processes in the root's mount namespace: started by this run. (Their
# /proc/PID/root does not name the copy once they have pivoted into it.)
inner_ns=
s_inside_pids() {
    [ -n "$inner_ns" ] || return 0
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$inner_ns" ] && echo "${p#/proc/}"
    done
}

s_cleanup() {
    local rc=$? p i
    trap - EXIT INT TERM
    [ -n "$inner_pid" ] && kill -TERM "$inner_pid" 2>/dev/null
    for i in 1 2 3 4 5; do
        [ -z "$(s_inside_pids)" ] && break
        for p in $(s_inside_pids); do kill -TERM "$p" 2>/dev/null; done
        sleep 1
    done
    # Whatever ignored TERM (dpkg in the middle of an unpack, say) gets KILL;
    # nothing may still write in the copy when it is removed.
    for i in $(seq 50); do
        [ -z "$(s_inside_pids)" ] && break
        for p in $(s_inside_pids); do kill -KILL "$p" 2>/dev/null; done
        sleep 0.2
    done
    [ -n "$inner_pid" ] && wait "$inner_pid" 2>/dev/null
    # The mounts lived in the namespace, which is gone with its processes:
    # in ours the copy is plain files. --one-file-system guards it anyway.
    if [ "${TD_FRESH_KEEP:-0}" = 1 ]; then
        say "kept $root"
    else
        rm -rf --one-file-system "$work"
    fi
    say "took $((SECONDS - t0))s"
    exit "$rc"
}
trap s_cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

mkdir -p "$root" && tar -C "$root" --numeric-owner -xf "$base" || die "cannot unpack $base"
# The base was packed from a mktemp -d directory (0700), and tar gives "/"
# that mode: a user other than root (postgres, for tests/sip/cdr_pgsql)
# could then reach nothing. A real machine's / is 0755.
chmod 0755 "$root"
cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $secmirror $suite-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
cp /etc/hosts "$root/etc/hosts" 2>/dev/null
echo tandem-fresh > "$root/etc/hostname"
git clone -q --no-hardlinks "$src" "$root/root/tandem" &&
    git -C "$root/root/tandem" checkout -q --detach "$head" || die "git clone of $src failed"
say "clean clone of $head in a fresh $suite root ($root)"
mkdir -p /tmp/tandem-test-ports

# Inside the new namespaces: mount what a machine has, pivot into the copy,
# then, with a clean environment, install make (the one package a user
# installs by hand, with git to clone) and run `make test`. TD_FRESH_ROOT=1
# tells the tests they run in this root: tests/sip/compose skips there (a
# Docker daemon started in a root sharing the host's network namespace would
# take over the host's docker0 bridge and iptables; the host's `make test`
# runs it).
inner=$(cat <<'EOF'
set -e
R=$1; ARCHIVES=$2
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mkdir -p "$R/run/lock" "$R/run/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mkdir -p "$R/tmp/tandem-test-ports"
mount --bind /tmp/tandem-test-ports "$R/tmp/tandem-test-ports"
mount --bind "$ARCHIVES" "$R/var/cache/apt/archives"
hostname tandem-fresh
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" TD_FRESH_ROOT=1 \
    bash -c 'echo "test-fresh: apt-get install make (what a user installs by hand before make test)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends make >/dev/null || exit 1
        # the fuzz pass here only proves clang and its runtime install and
        # build the harnesses: make test on the host fuzzes 6 s each already
        cd /root/tandem && exec make test FUZZ_CI_TIME=1'
EOF
)
unshare --mount --uts --ipc --propagation private -- \
    bash -c "$inner" inner "$root" "$cache/apt-archives" &
inner_pid=$!
# Its mount namespace, once it has entered it: what s_inside_pids looks for.
host_ns=$(readlink /proc/self/ns/mnt)
for i in $(seq 100); do
    ns=$(readlink "/proc/$inner_pid/ns/mnt" 2>/dev/null) || break
    [ "$ns" != "$host_ns" ] && { inner_ns=$ns; break; }
    sleep 0.05
done
wait "$inner_pid"
rc=$?
inner_pid=
say "make test in the fresh root exited $rc"
exit "$rc"
