#!/bin/sh
# Account verification for the bank transfer flow (README.md), one process
# per job:
#
#   errand work accounts -- examples/bank-transfer/verify.sh
#
# Step "verify" checks that the paying account can send and the receiving
# one exists. Nothing to undo, so no compensation. The accounts are
# simulated: any account starting with "CLOSED" is closed.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
transfer=$(field "$payload" transfer)
from=$(field "$payload" from)
to=$(field "$payload" to)
case "$from$to" in
  "") decline invalid_transfer "accounts: transfer $transfer names no accounts" ;;
esac
case "$to" in
  CLOSED*) decline account_closed "accounts: $to is closed" ;;
esac
echo "accounts: $from may pay $to (transfer $transfer)" >&2
printf '{"from":"%s","to":"%s","verified":true}\n' "$from" "$to"
