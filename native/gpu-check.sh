#!/usr/bin/env bash
# Checks the HBM tier on a machine with an NVIDIA GPU:
#   1. builds the CUDA shim with nvcc (fails if nvcc is missing),
#   2. runs the kvtier-hbm-jni tests on the CUDA build (-Dkvtier.hbm.variant=cuda): the tier
#      contract suite (contiguous, layer-split, registered region), the batch/gather/scatter tests
#      and the load-state tests; tests that need the emulated device's injected delays are skipped,
#   3. runs the transfer benchmark (HbmTransferBenchmark) and prints, per page size, shape and
#      direction, the page path's bandwidth beside one contiguous cudaMemcpyAsync of the same size,
#      with the ratio against the targets (>= 0.9 for pages >= 2 MiB, >= 0.8 for layer-split).
#
# Usage: native/gpu-check.sh [quick]      (quick: fewer sizes, shorter iterations)
# Environment: NVCC_ARCH (e.g. '-gencode arch=compute_90,code=sm_90' to build for H100 only),
#              OUT_DIR (where logs go; default native/build/gpu-check).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-full}"
out="${OUT_DIR:-native/build/gpu-check}"
mkdir -p "$out"

JAVA_HOME="$(tools/find-jdk.sh 25)"
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
if [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
fi
command -v nvcc >/dev/null || { echo "gpu-check: nvcc not found; install the CUDA toolkit" >&2; exit 1; }

echo "== machine" | tee "$out/machine.txt"
{
  nvcc --version | tail -n 2
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current \
      --format=csv
  else
    echo "nvidia-smi not found: no driver? the tests will report the CUDA error"
  fi
} | tee -a "$out/machine.txt"

if [ -n "${NVCC_ARCH:-}" ]; then
  export NVCC_ARCH # the Makefile reads it from the environment
fi

echo "== build (CUDA shim required) and tests on the cuda build"
./mvnw -B -ntp -pl kvtier-api,kvtier-testkit,kvtier-hbm-jni -am clean install \
  -Dkvtier.hbm.cuda=on -Dkvtier.hbm.variant=cuda 2>&1 | tee "$out/tests-cuda.log"
grep -h "<testsuite" kvtier-hbm-jni/target/surefire-reports/*.xml \
  | grep -o 'name="[^"]*" time="[^"]*" tests="[^"]*" errors="[^"]*" skipped="[^"]*" failures="[^"]*"' \
  | tee "$out/tests-cuda-summary.txt"

if [ "$mode" = quick ]; then
  jmh_common="-wi 1 -i 2 -w 500ms -r 500ms -f 1"
  sizes="0.5,2,32"
else
  jmh_common="-wi 2 -i 5 -w 1s -r 1s -f 1"
  sizes="0.5,1,2,4,8,16,32"
fi

echo "== transfer benchmark: every shape and direction, default copy mode"
./mvnw -B -q -ntp -pl kvtier-hbm-jni -Pjmh verify -DskipTests -Dkvtier.hbm.cuda=on \
  -Dkvtier.hbm.variant=cuda \
  "-Djmh.args=$jmh_common -p pageMiB=$sizes -p batchMiB=256 -rf json -rff $PWD/$out/jmh-auto.json" \
  2>&1 | tee "$out/bench-auto.log"

echo "== transfer benchmark: layer-split blocks under each copy mode"
./mvnw -B -q -ntp -pl kvtier-hbm-jni -Pjmh verify -DskipTests -Dkvtier.hbm.cuda=on \
  -Dkvtier.hbm.variant=cuda \
  "-Djmh.args=$jmh_common -p pageMiB=0.5,2,8 -p shape=LAYER_SPLIT -p batchMiB=256 -p copyMode=MEMCPY,BATCH,KERNEL -rf json -rff $PWD/$out/jmh-modes.json" \
  2>&1 | tee "$out/bench-modes.log"

echo "== done: logs and JMH JSON in $out"
