#!/usr/bin/env bash
# The Debian package's test, run by .ci/run: build the .deb, install it with dpkg, verify the
# systemd user unit (no user manager runs here, so systemd-analyze checks it offline), start a
# private session bus whose service directory is the installed one, call org.deixis.Deixis1
# with busctl so that D-Bus activation starts the installed deixisd, check its answers (busctl,
# a python Gio client that pushes a screen and resolves on it, the installed deixis CLI), stop
# it, purge the package and check that nothing `dpkg -L` listed is left.
#
# Changes the system: run it as root (or with sudo) on a machine where the deixis package is
# not installed. Needs cargo-deb (installed here if missing), dpkg, dbus-daemon, busctl and
# systemd-analyze (systemd), python3-gi, man-db.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
fail() {
  echo "test-deb: FAIL: $*" >&2
  exit 1
}
step() { echo "test-deb: $*"; }

if dpkg-query -W -f='${Status}' deixis 2>/dev/null | grep -q "ok installed"; then
  fail "the deixis package is installed already; this test installs and purges it"
fi
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb --version 3.8.0

work=$(mktemp -d)
bus_pid=""
pid=""
cleanup() {
  # Only what this test started: a deixisd of the user's own session is left alone.
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null || true
  if dpkg-query -W -f='${Status}' deixis 2>/dev/null | grep -q installed; then
    $SUDO dpkg --purge deixis >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Build. The binaries come from a workspace build, which shares its features (and so its
# compiled dependencies) with `cargo test --workspace --release`; `cargo deb` alone would
# build the daemon package by itself and recompile much of the tree.
step "building the package"
cargo build --release --workspace --bins --locked
deb=$(cargo deb -p deixis-daemon --no-build --strip | tail -n 1)
[ -f "$deb" ] || fail "cargo deb printed no package path (got: $deb)"
version=$(dpkg-deb -f "$deb" Version)
echo "test-deb: $deb: $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
dpkg-deb -f "$deb" Depends Recommends

# Install.
step "installing with dpkg"
$SUDO dpkg -i "$deb"
dpkg-query -L deixis > "$work/files"
for path in /usr/bin/deixisd /usr/bin/deixis /usr/lib/systemd/user/deixisd.service \
  /usr/share/dbus-1/services/org.deixis.Deixis1.service \
  /usr/share/dbus-1/interfaces/org.deixis.Deixis1.xml /usr/share/deixis/config.toml \
  /usr/share/deixis/models/deixis-small/config.json \
  /usr/share/deixis/models/deixis-small/tokenizer.json \
  /usr/share/deixis/models/deixis-small/weights.bin \
  /usr/share/man/man1/deixisd.1.gz /usr/share/man/man1/deixis.1.gz \
  /usr/share/man/man1/deixis-resolve.1.gz /usr/share/bash-completion/completions/deixis \
  /usr/share/zsh/vendor-completions/_deixis /usr/share/fish/vendor_completions.d/deixis.fish \
  /usr/share/doc/deixis/copyright; do
  grep -qx "$path" "$work/files" || fail "$path is not in the package"
  [ -f "$path" ] || fail "$path was not installed"
done
[ "$(/usr/bin/deixisd --version)" = "deixisd ${version%-*}" ] || fail "deixisd --version: $(/usr/bin/deixisd --version)"
/usr/bin/deixisd --check-config --config /usr/share/deixis/config.toml > "$work/config.toml"
cmp -s /usr/share/deixis/config.toml "$work/config.toml" ||
  fail "the installed config.toml is not deixisd's defaults"

# The unit, checked offline: its syntax, that ExecStart exists and is executable, and that its
# Documentation= man page is installed.
step "systemd-analyze verify"
mkdir -m 700 "$work/run"
XDG_RUNTIME_DIR="$work/run" systemd-analyze --user verify /usr/lib/systemd/user/deixisd.service
grep -qx 'SystemdService=deixisd.service' /usr/share/dbus-1/services/org.deixis.Deixis1.service ||
  fail "the D-Bus service file names no systemd unit"

# Man pages and completions load.
man -P cat deixisd 2>/dev/null | grep -q "org.deixis.Deixis1" || fail "man deixisd"
man -P cat deixis-resolve 2>/dev/null | grep -q -- "--screen" || fail "man deixis-resolve"
bash -c '. /usr/share/bash-completion/completions/deixis && complete -p deixis' | grep -q deixis ||
  fail "bash completion"

# D-Bus activation: a private session bus whose only service directory is the installed one.
# Its environment is all the activated deixisd gets: the store goes to $work/data.
step "D-Bus activation on a private session bus"
cat > "$work/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <servicedir>/usr/share/dbus-1/services</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
mkdir "$work/home" "$work/data"
env -i PATH=/usr/bin:/bin HOME="$work/home" XDG_DATA_HOME="$work/data" \
  dbus-daemon --config-file="$work/session.conf" --fork --print-address=1 --print-pid=1 \
  > "$work/bus.out"
address=$(sed -n 1p "$work/bus.out")
bus_pid=$(sed -n 2p "$work/bus.out")
export DBUS_SESSION_BUS_ADDRESS="$address"
bctl() { busctl --address="$address" "$@"; }
bctl list --activatable | grep -q '^org.deixis.Deixis1 ' || fail "org.deixis.Deixis1 is not activatable"
! bctl status org.deixis.Deixis1 >/dev/null 2>&1 || fail "deixisd ran before the first call"

# The first call starts deixisd, which answers with the installed model.
answer=$(bctl get-property org.deixis.Deixis1 /org/deixis/Deixis1 org.deixis.Deixis1 Version Status Model)
[ "$answer" = "$(printf 's "%s"\ns "ready"\ns "deixis-small"' "${version%-*}")" ] ||
  fail "properties after activation: $answer"
pid=$(bctl status org.deixis.Deixis1 | sed -n 's/^PID=//p')
[ "$(readlink "/proc/$pid/exe")" = /usr/bin/deixisd ] ||
  fail "the activated service is $(readlink "/proc/$pid/exe"), not /usr/bin/deixisd"
step "activated /usr/bin/deixisd (pid $pid)"

# A client that pushes an AccessKit tree (kept while it stays on the bus) and resolves on it.
/usr/bin/python3 - <<'EOF'
import json
from gi.repository import Gio, GLib

bus = Gio.DBusConnection.new_for_address_sync(
    GLib.getenv("DBUS_SESSION_BUS_ADDRESS"),
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)

def node(role, label, bounds, children=()):
    props = {"label": label, "bounds": dict(zip(("x0", "y0", "x1", "y1"), bounds))}
    if children:
        props["children"] = list(children)
    return {"role": role, "actions": 0, "childActions": 0, "flags": 0, "properties": props}

tree = {
    "nodes": [
        [1, node("window", "Mission control", (0, 0, 800, 600), (2, 3, 4))],
        [2, node("label", "Countdown: call Houston at +1 281 483 0123", (20, 20, 780, 60))],
        [3, node("button", "Launch rocket", (20, 520, 200, 580))],
        [4, node("button", "Abort mission", (600, 520, 780, 580))],
    ],
    "tree": {"root": 1, "toolkitName": None, "toolkitVersion": None},
    "treeId": "00000000-0000-0000-0000-000000000000",
    "focus": 3,
}

def call(method, args, reply):
    return bus.call_sync("org.deixis.Deixis1", "/org/deixis/Deixis1", "org.deixis.Deixis1",
                         method, args, GLib.VariantType(reply), Gio.DBusCallFlags.NONE,
                         10000, None).unpack()

call("PushTree", GLib.Variant("(ss)", ("org.example.Mission", json.dumps(tree))), "()")
for query, want in [("press launch", "Launch rocket"),
                    ("the button on the right", "Abort mission"),
                    ("call that number", "+1 281 483 0123")]:
    (answer,) = call("Resolve", GLib.Variant("(sa{sv})", (query, {})), "(aa{sv})")
    chosen = [c["text"] for c in answer if c["selected"]]
    assert chosen == [want], f"{query!r}: {chosen} (wanted {want!r}); answer {answer}"
    print(f"test-deb: Resolve {query!r} -> {chosen[0]!r}")
EOF

# The installed CLI talks to the activated service.
deixis status --json | grep -q '"status":"ready"' || fail "deixis status: $(deixis status --json)"

# Stop: SIGTERM ends it cleanly.
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null || fail "deixisd did not exit on SIGTERM"
pid=""
kill "$bus_pid"
bus_pid=""

# Purge: nothing the package listed is left (directories only where another package owns
# them too).
step "purging"
$SUDO dpkg --purge deixis
left=0
while read -r path; do
  [ -e "$path" ] || [ -L "$path" ] || continue
  if [ -d "$path" ] && [ ! -L "$path" ] && dpkg-query -S "$path" >/dev/null 2>&1; then
    continue
  fi
  echo "test-deb: left after purge: $path" >&2
  left=1
done < "$work/files"
[ "$left" -eq 0 ] || fail "files left after purge"
echo "test-deb: ok ($(wc -l < "$work/files") paths installed, all gone after purge)"
