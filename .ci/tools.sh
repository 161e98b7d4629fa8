# Installs the tools Mast's build and tests need, each only when it is missing or
# at the wrong version. Sourced by .ci/mast; everything comes from crates.io, npm
# and Debian's packages, so it also works behind a firewall that allows only those.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.10
export PATH="$ROOT/.ci/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Each step prints the minutes since the start, so a slow CI run shows where its time went.
say() { printf '\033[1m==> [%2dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# The wasm-bindgen CLI must match the crate exactly, so read the version from Cargo.lock.
locked_wasm_bindgen() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Runs a step with a deadline far above its usual time. Past it, prints the stack of every
# thread of the step's processes (with gdb, when installed) and fails: a step that hangs then
# shows where, instead of using up the CI run's time in silence.
with_deadline() {
  local minutes="$1"; shift
  "$@" &
  local pid=$!
  (
    # In the background, so stopping it early (below) prints no "Terminated".
    sleep "$((minutes * 60))" &
    wait $! || exit 0
    kill -0 "$pid" 2>/dev/null || exit 0
    echo "!! still running after $minutes min: $*" >&2
    for p in $(descendants "$pid"); do
      echo "--- process $p: $(ps -o args= -p "$p" 2>/dev/null | cut -c1-160)" >&2
      if command -v gdb >/dev/null; then
        timeout 120 gdb -p "$p" -batch -ex "thread apply all bt 30" 2>/dev/null | grep -E '^(Thread|#)' | head -600 >&2 || true
      fi
    done
    kill -TERM $(descendants "$pid") "$pid" 2>/dev/null || true
  ) &
  local watchdog=$! status=0
  wait "$pid" || status=$?
  pkill -P "$watchdog" 2>/dev/null || true
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  return "$status"
}

descendants() {
  local child
  for child in $(pgrep -P "$1"); do echo "$child"; descendants "$child"; done
}

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  sudo_if_needed apt-get update -qq
  # A first install has been seen failing to read its own downloaded .deb; once more works.
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# npm ci only when the lockfile changed since the last install.
npm_ci_once() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in ${dir#$ROOT/}"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}

install_build_tools() {
  # webauthn-rs (passkeys) links OpenSSL.
  apt_install libssl-dev pkg-config
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    say "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads; takes ~12 min once)"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  local wb; wb="$(locked_wasm_bindgen)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb" ]; then
    say "cargo install wasm-bindgen-cli $wb"
    # Not --locked: its lockfile pins a webpki-roots release the registry does not serve.
    cargo install wasm-bindgen-cli --version "$wb" --force
  fi
  npm_ci_once "$ROOT/.ci/tools"
}

install_test_tools() {
  apt_install chromium fonts-dejavu-core sqlite3 curl
  npm_ci_once "$ROOT/end2end"
}
