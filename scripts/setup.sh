#!/usr/bin/env bash
# Installs everything facesr needs on Debian 12 (run as root, or with sudo available):
# system packages (only those missing), npm packages, the native addon and the TypeScript build.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

# libtorch-dev: the tensor engine the addon links against; python3-torch: the PyTorch reference used by
# fixture scripts and benchmarks (never at run time); build-essential: the C++ toolchain.
APT_PACKAGES=(build-essential libtorch-dev python3-torch opencv-data) # opencv-data: BRISQUE model files (src/eval/brisque.ts)
# chromium: the headless browser the web page's end-to-end test drives (tests/e2e-serve.test.ts, playwright-core).
APT_PACKAGES+=(chromium)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo env DEBIAN_FRONTEND=noninteractive)
  echo "facesr setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "facesr setup: Node.js >= 20 with npm is required" >&2
  exit 1
fi

# --ignore-scripts: binding.gyp would make npm run an implicit node-gyp rebuild; we build once below.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
npm run --silent build:native
npm run --silent build:ts
chmod +x dist/src/cli/main.js
