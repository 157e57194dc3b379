#!/usr/bin/env bash
# The sweep feature's acceptance run, end to end, with the figures it measured:
#
#   1. a Latin-hypercube sweep of the baseline (N runs, default 1,000) from one command,
#      killed with SIGKILL part-way and resumed by re-running the same command; the journal
#      must then hold every run exactly once;
#   2. the same design on 1 worker, 2 workers and a Dask LocalCluster (on a horizon cut to
#      COMPARE_END, after the baseline's last planned delivery, to keep this affordable on two
#      cores): runs.parquet must be byte-identical;
#   3. `xpusim sensitivity` on the finished sweep ranks the assumptions (no new runs).
#
# Usage: scripts/sweep_acceptance.sh [OUT_DIR]
#   environment: N (runs, 1000), KILL_AFTER_S (240), COMPARE_END (2025-07-01),
#   PHASES (which of "1 2 3" to run; 3 needs the folder of 1),
#   VARIANTS (which of "w1 w2 dask" phase 2 runs; the comparison needs all three folders)
# About 75 minutes on a 2-core machine for the default N=1000.
set -euo pipefail

out="${1:-results/sweep-acceptance}"
n="${N:-1000}"
kill_after="${KILL_AFTER_S:-240}"
compare_end="${COMPARE_END:-2025-07-01}"
phases="${PHASES:-1 2 3}"
scenario="scenarios/baseline.yaml"
mkdir -p "$out"

count_runs() {  # finished runs in a journal, and how many distinct (point, replication)
  python - "$1" <<'EOF'
import json, sys
keys = []
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        if line.endswith(b"\n"):
            row = json.loads(line)
            keys.append((row["point"], row["replication"]))
print(len(keys), len(set(keys)))
EOF
}

run_phase() { [[ " $phases " == *" $1 "* ]]; }

if run_phase 1; then
echo "== 1. $n-run LHS sweep of $scenario: start, SIGKILL after ${kill_after}s, resume"
sweep=(xpusim sweep "$scenario" --sample "$n" --method lhs --replications 1 --workers 2
       --out "$out/lhs")
t0=$(date +%s)
setsid "${sweep[@]}" > "$out/first-attempt.log" 2>&1 &
pid=$!
sleep "$kill_after"
kill -KILL -- "-$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
read -r before unique_before < <(count_runs "$out/lhs/runs.jsonl")
echo "killed after ${kill_after}s: $before runs in the journal ($unique_before distinct)"
"${sweep[@]}" 2>&1 | tail -n 5
t1=$(date +%s)
read -r after unique_after < <(count_runs "$out/lhs/runs.jsonl")
rows=$(python -c "import pandas as pd; print(len(pd.read_parquet('$out/lhs/runs.parquet')))")
echo "resumed: journal $after runs ($unique_after distinct), runs.parquet $rows rows," \
     "$((t1 - t0)) s in all"
[ "$after" -eq "$n" ] && [ "$unique_after" -eq "$n" ] && [ "$rows" -eq "$n" ] \
  || { echo "FAIL: expected $n runs exactly once" >&2; exit 1; }
fi

if run_phase 2; then
echo "== 2. same design, horizon cut to $compare_end: 1 worker, 2 workers, Dask"
base=(xpusim sweep "$scenario" --set "horizon.end=$compare_end" --sample "$n" --method lhs
      --replications 1 --quiet)
for variant in ${VARIANTS:-w1 w2 dask}; do
  start=$(date +%s)
  case "$variant" in
    w1) "${base[@]}" --workers 1 --out "$out/cmp-w1" > /dev/null ;;
    w2) "${base[@]}" --workers 2 --out "$out/cmp-w2" > /dev/null ;;
    dask)
      # a real dask.distributed cluster from its own command line (as on several machines)
      rm -f "$out/scheduler.json"
      dask scheduler --port 0 --no-dashboard --scheduler-file "$out/scheduler.json" \
        > "$out/dask-scheduler.log" 2>&1 &
      sched=$!
      for _ in $(seq 60); do [ -s "$out/scheduler.json" ] && break; sleep 1; done
      dask worker --scheduler-file "$out/scheduler.json" --nworkers 2 --nthreads 1 \
        --no-dashboard > "$out/dask-workers.log" 2>&1 &
      workers=$!
      address=$(python -c "import json; print(json.load(open('$out/scheduler.json'))['address'])")
      "${base[@]}" --scheduler "$address" --out "$out/cmp-dask" > /dev/null
      kill "$workers" "$sched" 2>/dev/null || true
      wait "$workers" "$sched" 2>/dev/null || true
      ;;
  esac
  echo "$variant: $(( $(date +%s) - start )) s, runs.parquet sha256" \
       "$(sha256sum "$out/cmp-$variant/runs.parquet" | cut -c1-16)"
done
cmp "$out/cmp-w1/runs.parquet" "$out/cmp-w2/runs.parquet"
cmp "$out/cmp-w1/runs.parquet" "$out/cmp-dask/runs.parquet"
echo "identical runs.parquet on 1 worker, 2 workers and Dask"
fi

run_phase 3 || exit 0
echo "== 3. rank the assumptions from the finished sweep"
xpusim sensitivity "$out/lhs" --out "$out/ranking" \
  --metric usage_ratio_vs_gpu.trainium.2030 \
  --metric usage_ratio_vs_gpu.inferentia.2030 \
  --metric program_value.npv_usd \
  --metric provider.tco_usd
