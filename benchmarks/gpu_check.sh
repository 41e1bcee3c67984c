#!/usr/bin/env bash
# One prepared GPU check for a lent GPU machine (at most about 5 minutes: each part has a time limit): the GPU tests, then the
# GPU figures of the benchmark (matmul throughput, training efficiency, evaluation step, SASRec).
#
#   bash benchmarks/gpu_check.sh            # from the repository root
#   PYTHON=/path/to/python bash benchmarks/gpu_check.sh
#
# TensorFlow needs its CUDA libraries (pip install "tensorflow[and-cuda]==<the pinned version>"); the
# script says so and stops when TensorFlow sees no GPU. Output: the figures on stdout and
# results/gpu_check.txt.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TF_CPP_MIN_LOG_LEVEL=2 TQDM_DISABLE=1
mkdir -p results
OUT=results/gpu_check.txt
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }
part() {  # part <title> <seconds> <command...>: run with a time limit, keep going on failure
  local title=$1 limit=$2; shift 2
  say "== $title"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | grep -v -E '^(I0000|W0000|WARNING: All log messages)' | tee -a "$OUT"
  say "   ($title: exit ${PIPESTATUS[0]}, $((SECONDS - t0)) s)"
}

say "== machine: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT"
"$PY" - <<'PY' 2>&1 | grep -v -E '^(I0000|W0000|WARNING: All log)' | tee -a "$OUT"
import tensorflow as tf
print("TensorFlow", tf.__version__, "CUDA build:", tf.test.is_built_with_cuda(),
      "GPUs:", [d.name for d in tf.config.list_physical_devices("GPU")])
PY
if ! "$PY" -c "from sbrlib._tf import HAS_GPU; raise SystemExit(0 if HAS_GPU else 1)" 2>/dev/null; then
  version=$("$PY" -c "import tensorflow as t; print(t.__version__)" 2>/dev/null)
  say "TensorFlow sees no GPU: no GPU or driver (nvidia-smi above), or TensorFlow's CUDA libraries are missing:"
  say "  $PY -m pip install \"tensorflow[and-cuda]==$version\"   then rerun this script."
  exit 1
fi

part "GPU tests (tests/test_gpu.py)" 100 "$PY" -m pytest -q -rs tests/test_gpu.py
part "matmul throughput and training efficiency (synthetic-tiny sessions, GRU4Rec 2 epochs each)" 80 \
  "$PY" benchmarks/bench_efficiency.py --dataset synthetic-tiny --max-events 20000
part "evaluation speed (s per 100k predictions, 3,706 items; GRU4Rec step on the GPU)" 50 \
  "$PY" benchmarks/bench_eval.py --repeat 2
part "SASRec training (synthetic ML-1M size, leave-one-out; max_len 200, 2 blocks, dim 50, batch 128)" 60 \
  "$PY" benchmarks/bench_sasrec.py --dataset synthetic --steps 50
say "== done; figures in $OUT"
