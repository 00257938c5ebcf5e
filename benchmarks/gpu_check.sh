#!/usr/bin/env bash
# The CUDA path on a machine with an NVIDIA GPU, in one run of under 8 minutes:
#   1. what request-dse sees (doctor: GPU, CUDA support of each library, NVML energy);
#   2. the cuda target's tests (the GPU study test runs here instead of being skipped);
#   3. a small study on the GPU -- TVM (dlight default schedules), ONNX Runtime (CUDA
#      execution provider), PyTorch, each where available -- and the same candidates on local-cpu, with the
#      figures (p50/p90 latency, accuracy, energy and its source) printed as Markdown.
#
#   benchmarks/gpu_check.sh            (from the repository root, after `make setup`)
#
# Every step has its own time limit; a step that fails is reported and the next one runs.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
START=$(date +%s)
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export REQUEST_DSE_CACHE="$WORK/cache" MLFLOW_TRACKING_URI= PYTHONUNBUFFERED=1

step() { echo; echo "## $1 ($(( $(date +%s) - START )) s)"; }

step "machine"
date -u +%Y-%m-%dT%H:%MZ
nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version --format=csv || echo "nvidia-smi failed"
"$PY" - <<'EOF'
from request_dse import sysinfo
v = sysinfo.versions()
print("libraries:", ", ".join(f"{k} {v[k]}" for k in ("apache-tvm", "onnxruntime", "torch") if v.get(k)))
EOF

step "request-dse doctor"
timeout 120 "$PY" -m request_dse doctor || echo "doctor failed (exit $?)"

step "tests/targets/test_cuda.py"
timeout 150 "$PY" -m pytest tests/targets/test_cuda.py -q -p no:cacheprovider -rs -x 2>&1 | tail -15

step "a small study on the GPU and on the CPU"
FRAMEWORKS=$("$PY" - <<'EOF'
from request_dse.backends import get_backend
from request_dse.config import REPO_ROOT, load_target
from request_dse.targets import option_specs
spec = load_target(REPO_ROOT / "targets" / "cuda.yaml", option_specs(), expected_name="cuda")
ok = [n for n in ("tvm", "onnxruntime", "torch") if get_backend(n).unavailable(spec) is None]
for n in ("tvm", "onnxruntime", "torch"):
    if n not in ok:
        import sys; print(f"{n} on cuda: {get_backend(n).unavailable(spec)}", file=sys.stderr)
print(" ".join(ok))
EOF
)
echo "frameworks on cuda: ${FRAMEWORKS:-none}"
for TARGET in cuda local-cpu; do
  [ -n "$FRAMEWORKS" ] || break
  "$PY" - "$WORK" "$TARGET" $FRAMEWORKS <<'EOF'
import sys, yaml
work, target, frameworks = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = {"name": f"gpu-check-{target}", "workload": "digits", "target": target,
       "frameworks": {f: {} for f in frameworks},
       "space": {"dimensions": {"model.family": ["mobilenet", "resnet"], "model.width": [1.0],
                                "model.depth": [20], "model.resolution": [32], "model.precision": ["fp32"],
                                "batch_size": [1, 16]}},
       "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p50_ms"}],
       "budget": {"trials": 4 * len(frameworks)}, "sampler": {"name": "grid", "seed": 0},
       "measure": {"warmup_runs": 20, "min_runs": 100, "min_time_s": 0.5, "repeats": 2, "timeout_s": 120},
       "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False,
       "work_dir": f"{work}/{target}"}
open(f"{work}/{target}.yaml", "w").write(yaml.safe_dump(doc))
EOF
  timeout 200 "$PY" -m request_dse tune "$WORK/$TARGET.yaml" -q --no-export || echo "tune on $TARGET failed (exit $?)"
done

step "figures"
"$PY" - "$WORK" <<'EOF'
import json, subprocess, sys
work = sys.argv[1]
print("| target | framework | model | batch | p50 ms | p90 ms | per sample ms | accuracy | energy mJ/inf | energy source | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for target in ("cuda", "local-cpu"):
    run = subprocess.run([sys.executable, "-m", "request_dse", "report", f"{work}/{target}.yaml", "--json"],
                         capture_output=True, text=True)
    if not run.stdout.strip():
        print(f"| {target} | - | - | - | - | - | - | - | - | - | no report: {run.stderr.strip()[-200:]} |")
        continue
    for t in json.loads(run.stdout)["trials"]:
        p, m = t["candidate"], t.get("metrics", {})
        f = lambda k, d=3: f"{m[k]:.{d}f}" if k in m else "-"
        model = f"{p.get('model.family')}{p.get('model.depth', '') if p.get('model.family') == 'resnet' else ''}"
        print(f"| {target} | {p.get('framework')} | {model} | {p.get('batch_size')} | {f('latency_p50_ms')} | "
              f"{f('latency_p90_ms')} | {f('latency_per_sample_ms', 4)} | {f('accuracy_top1', 4)} | "
              f"{f('energy_mj_per_inference', 4)} | {t.get('info', {}).get('energy_source', '-')} | "
              f"{t['status']}{(': ' + t.get('error', '')[:80]) if t['status'] != 'ok' else ''} |")
EOF
echo
echo "total: $(( $(date +%s) - START )) s"
