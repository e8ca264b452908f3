#!/bin/sh
# Settlement for the bank transfer flow (README.md), one process per job:
#
#   errand work ledger -- examples/bank-transfer/settle.sh
#
# Step "settle" runs once "verify", "screen" and "limits" all succeeded, and
# gets their results as its inputs: it books the transfer against the hold
# that "limits" placed.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
transfer=$(field "$payload" transfer)
inputs=$(flow_inputs)
hold=$(field "$inputs" hold)
amount=$(field "$inputs" amount_cents)
entry="L-$(job_tag)"
echo "ledger: settled transfer $transfer as $entry, taking hold $hold" >&2
printf '{"transfer":"%s","status":"settled","ledger_entry":"%s","hold":"%s","amount_cents":%s}\n' \
  "$transfer" "$entry" "$hold" "$amount"
