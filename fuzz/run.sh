#!/usr/bin/env bash
# Runs one libFuzzer target briefly: fuzz/run.sh BINARY CORPUS_DIR WORK_DIR SECONDS
# The checked-in corpus (if any) is read but never written; new inputs go to WORK_DIR.
set -euo pipefail
bin=$1 corpus=$2 work=$3 secs=$4
mkdir -p "$work"
dirs=("$work")
[ -d "$corpus" ] && dirs+=("$corpus")
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "${dirs[@]}"
