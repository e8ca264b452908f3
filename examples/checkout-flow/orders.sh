#!/bin/sh
# The order service of the checkout flow (README.md), one process per job:
#
#   errand work orders -- examples/checkout-flow/orders.sh
#
# Step "confirm" runs once "reserve", "charge" and "fraud" all succeeded, and
# gets their results as its inputs: it confirms the order with them.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
order=$(field "$payload" order)
inputs=$(flow_inputs)
reservation=$(field "$inputs" reservation)
charge=$(field "$inputs" charge_id)
score=$(field "$inputs" score)
confirmation="C-$(job_tag)"
echo "orders: confirmed order $order as $confirmation" >&2
printf '{"order":"%s","confirmation":"%s","reservation":"%s","charge_id":"%s","fraud_score":%s}\n' \
  "$order" "$confirmation" "$reservation" "$charge" "$score"
