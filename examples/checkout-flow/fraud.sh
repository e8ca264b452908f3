#!/bin/sh
# The fraud check of the checkout flow (README.md), one process per job:
#
#   errand work fraud -- examples/checkout-flow/fraud.sh
#
# Step "fraud" scores the order. It has nothing to undo, so no compensation.
# The risk service is simulated, and slower than the others: it rejects any
# email address at fraud.example.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
order=$(field "$payload" order)
email=$(field "$payload" email)
echo "errand:progress 50 asking the risk service" >&2
sleep 0.5
case "$email" in
  *@fraud.example) decline fraud_suspected "fraud: order $order rejected: $email is on the block list" ;;
esac
echo "fraud: order $order looks fine (score 12)" >&2
printf '{"score":12,"verdict":"accept"}\n'
