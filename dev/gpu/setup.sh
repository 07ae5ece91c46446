# Sourced by dev/gpu/check.sh and dev/gpu/fan.sh on the GPU machine: unpacks the carried Node and
# node_modules (.gpu/), points LIBTORCH at the machine's PyTorch and builds the addon against it.
# Leaves PATH, LIBTORCH and FACESR_PEER_PYTHON exported; OUT must be set.
mkdir -p /tmp/node/bin
xz -dc .gpu/node.xz > /tmp/node/bin/node && chmod +x /tmp/node/bin/node
export PATH=/tmp/node/bin:$PATH
mkdir -p node_modules && tar -C node_modules -xJf .gpu/nm.tar.xz
PY=$(command -v python3)
LIBTORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')
export LIBTORCH
export FACESR_PEER_PYTHON=$PY
echo "node $(node -v); python $PY; torch $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)'); g++ $(g++ -dumpfullversion)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
NODE_INCLUDE=.gpu/node-include dev/gpu/build-addon.sh build/Release/facesr_native.node > "$OUT/build.log" 2>&1
tail -3 "$OUT/build.log"
[ -f build/Release/facesr_native.node ] || { echo "no addon built"; exit 1; }
