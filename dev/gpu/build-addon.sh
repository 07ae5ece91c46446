#!/usr/bin/env bash
# Builds the addon with g++ alone (no node-gyp, no npm), for a machine that has a C++ compiler and a
# libtorch but no Node toolchain: the GPU machine, where libtorch is PyTorch's torch/ folder.
#   LIBTORCH=DIR NODE_INCLUDE=DIR dev/gpu/build-addon.sh [OUT.node]
# NODE_INCLUDE holds node_api.h and its three siblings (from /usr/include/node). The flags are
# binding.gyp's, read from scripts/torch-config.cjs so the two builds cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/Release/facesr_native.node}
node=${NODE:-node}
: "${NODE_INCLUDE:?set NODE_INCLUDE to a folder with node_api.h}"
inc=$($node scripts/torch-config.cjs include)
defs=$($node scripts/torch-config.cjs defines)
ldflags=$($node scripts/torch-config.cjs ldflags)
flags=(-std=c++17 -O2 -fPIC -fexceptions -frtti -Wno-unused-parameter -Wno-deprecated-declarations
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DBUILDING_NODE_EXTENSION)
for d in $defs; do flags+=("-D$d"); done
flags+=("-I$NODE_INCLUDE" "-I$($node -p "require('node-addon-api').include_dir")")
for i in $inc; do flags+=("-I$i"); done
obj=$(mktemp -d)
pids=()
for src in native/src/*.cc; do
  g++ "${flags[@]}" -c "$src" -o "$obj/$(basename "$src" .cc).o" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail = 0 ] || { echo "build-addon: compile failed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2086
g++ -shared -o "$out" "$obj"/*.o $ldflags
rm -rf "$obj"
echo "build-addon: $out ($defs)"
