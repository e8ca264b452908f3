#!/bin/sh
# Fraud and sanctions screening for the bank transfer flow (README.md), one
# process per job:
#
#   errand work screening -- examples/bank-transfer/screen.sh
#
# Step "screen" checks the receiving account against a watch list. Nothing to
# undo, so no compensation. The screening service is simulated, and slower
# than the others: its watch list holds the one account below.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

watch_list="GB33BUKB20201555555555"

payload=$(cat)
transfer=$(field "$payload" transfer)
to=$(field "$payload" to)
echo "errand:progress 50 asking the screening service" >&2
sleep 0.5
if [ "$to" = "$watch_list" ]; then
  decline screening_hit "screening: transfer $transfer stopped: $to is on the watch list"
fi
echo "screening: transfer $transfer is clear" >&2
printf '{"screening":"clear","list_version":"2024-07-01"}\n'
