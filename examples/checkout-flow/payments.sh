#!/bin/sh
# The payment service of the checkout flow (README.md), one process per job:
#
#   errand work payments -- examples/checkout-flow/payments.sh
#
# Step "charge" charges the card; its compensation refunds the charge when a
# later step of the order fails. The card network is simulated: it declines
# the test card 4000-0000-0000-0002 and accepts any other.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
order=$(field "$payload" order)

if compensating; then
  # The inputs hold what "charge" answered: the charge to refund.
  inputs=$(flow_inputs)
  charge=$(field "$inputs" charge_id)
  amount=$(field "$inputs" amount_cents)
  echo "payments: refunded $amount cents of $charge (order $order)" >&2
  printf '{"refund":"re_%s","charge_id":"%s","amount_cents":%s}\n' "$(job_tag)" "$charge" "$amount"
  exit 0
fi

card=$(field "$payload" card)
amount=$(field "$payload" amount_cents)
echo "errand:progress 50 asking the card network" >&2
sleep 0.2
case "$card" in
  4000-0000-0000-0002) decline declined "payments: the card ending ${card##*-} was declined" ;;
esac
charge="ch_$(job_tag)"
echo "payments: charged $amount cents to the card ending ${card##*-} as $charge (order $order)" >&2
printf '{"charge_id":"%s","amount_cents":%s}\n' "$charge" "$amount"
