#!/bin/sh
# The limit check for the bank transfer flow (README.md), one process per job:
#
#   errand work limits -- examples/bank-transfer/limits.sh
#
# Step "limits" checks the amount against the paying account's daily limit
# and places a hold on it, so that the money cannot be spent twice while the
# other checks run. Its compensation releases the hold when a later step of
# the transfer fails. The accounts are simulated: the limit is 10,000.00.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

daily_limit_cents=1000000

payload=$(cat)
transfer=$(field "$payload" transfer)

if compensating; then
  # The inputs hold what "limits" answered: the hold to release.
  inputs=$(flow_inputs)
  hold=$(field "$inputs" hold)
  amount=$(field "$inputs" amount_cents)
  echo "limits: released hold $hold of $amount cents (transfer $transfer)" >&2
  printf '{"released":"%s","amount_cents":%s}\n' "$hold" "$amount"
  exit 0
fi

from=$(field "$payload" from)
amount=$(field "$payload" amount_cents)
case "$amount" in
  "" | *[!0-9]*) decline invalid_transfer "limits: amount_cents must be a whole number, got ${amount:-nothing}" ;;
esac
if [ "$amount" -gt "$daily_limit_cents" ]; then
  decline limit_exceeded "limits: $amount cents is over the daily limit of $from"
fi
hold="H-$(job_tag)"
echo "limits: placed hold $hold of $amount cents on $from (transfer $transfer)" >&2
printf '{"hold":"%s","account":"%s","amount_cents":%s}\n' "$hold" "$from" "$amount"
