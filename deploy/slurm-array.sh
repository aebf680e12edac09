#!/bin/bash
# iotdest over a Slurm job array: N workers, one command each, filling one dataset on shared
# storage. Every worker extracts its share of the device-months, waits until the others have
# extracted theirs (a month's DNS look-back reads its neighbours), analyses and exports its share
# of the months; worker 0 then waits for every month and writes the report. The array's tasks
# must be able to run at the same time (they wait for each other): keep --array within what the
# partition runs at once, or run `iotdest extract --shard` and `iotdest analyze --shard` as two
# dependent arrays instead (sbatch --dependency=afterok:JOBID).
#
#   sbatch deploy/slurm-array.sh
#
#SBATCH --job-name=iotdest
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --output=iotdest-%A_%a.log
set -euo pipefail

ROOT=/data/disk1/traffic/by-name        # <root>/<device>/ctrl2/*.pcap, readable by every node
DATASET=/shared/iotdest/dataset         # on storage every node sees at the same path
N="${SLURM_ARRAY_TASK_COUNT:?run as an array job}"

exec iotdest run --root "$ROOT" --all --out "$DATASET" \
  --legacy-out "$DATASET/analysis_longitudinal" \
  --shard "${SLURM_ARRAY_TASK_ID}/${N}" \
  --threads "${SLURM_CPUS_PER_TASK:-2}" --memory-limit 2GiB
