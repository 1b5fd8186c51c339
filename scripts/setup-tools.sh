#!/usr/bin/env bash
# Installs the monitoring binaries the tests and `npm run stack` run for real:
# prometheus, promtool, alertmanager and amtool, from Debian's packages, into .tools/bin
# (git-ignored). Nothing is installed system-wide.
#
# Why a private apt configuration: the machine's own suite (bookworm) ships Prometheus 2.42,
# which has no OTLP receiver; the next suite (trixie) ships 2.53 and Alertmanager 0.28. We read
# the mirror the machine is already configured with and ask it for that suite, in a throw-away
# apt state folder, so the machine's apt setup is left untouched.
#
# Usage: scripts/setup-tools.sh [--force]
# Exit status is non-zero when any binary is missing afterwards: callers (CI) must not go on.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
suite="${TOOLS_DEBIAN_SUITE:-trixie}"
packages=(prometheus promtool prometheus-alertmanager)

# Debian's Alertmanager reads its notification templates from this fixed path (a Debian patch
# that un-embeds them); the binary does not start without default.tmpl there.
am_share=/usr/share/prometheus/alertmanager

have_all() {
  [[ -x "$bin/prometheus" && -x "$bin/promtool" && -x "$bin/alertmanager" && -x "$bin/amtool" && -f "$am_share/default.tmpl" ]]
}

if [[ "${1:-}" != "--force" ]] && have_all; then
  echo "setup-tools: already installed in $bin"
  exit 0
fi

command -v apt-get >/dev/null || { echo "setup-tools: apt-get not found; install prometheus, promtool and alertmanager (>= 2.47 / 0.25) into $bin by hand" >&2; exit 1; }

work="$tools/apt"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/sources.list.d" "$work/cache/archives/partial" "$work/debs" "$bin"

# The mirror URI already configured on this machine (deb822 or one-line format).
uri=""
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  uri="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
fi
if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
  uri="$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
fi
[[ -n "$uri" ]] || { echo "setup-tools: no Debian mirror configured in /etc/apt" >&2; exit 1; }

cat > "$work/sources.list.d/tools.sources" <<SRC
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$work/sources.list.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1"
)

echo "setup-tools: fetching ${packages[*]} ($suite) from $uri"
apt-get "${apt_opts[@]}" -qq update
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}")

extract="$work/root"
mkdir -p "$extract"
for deb in "$work/debs"/*.deb; do dpkg-deb -x "$deb" "$extract"; done

install -m 0755 "$extract/usr/bin/prometheus" "$bin/prometheus"
install -m 0755 "$extract/usr/bin/promtool" "$bin/promtool"
install -m 0755 "$extract/usr/bin/prometheus-alertmanager" "$bin/alertmanager"
install -m 0755 "$extract/usr/bin/amtool" "$bin/amtool"
if [[ ! -f "$am_share/default.tmpl" ]]; then
  if ! { mkdir -p "$am_share" && cp -r "$extract$am_share/." "$am_share/"; } 2>/dev/null; then
    echo "setup-tools: cannot write $am_share (Debian's alertmanager needs its templates there); run once as root" >&2
    exit 1
  fi
fi
rm -rf "$work"

have_all || { echo "setup-tools: install incomplete in $bin" >&2; exit 1; }
"$bin/prometheus" --version | head -1
"$bin/alertmanager" --version 2>&1 | head -1
