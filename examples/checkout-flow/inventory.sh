#!/bin/sh
# The inventory service of the checkout flow (README.md), one process per job:
#
#   errand work inventory -- examples/checkout-flow/inventory.sh
#
# Step "reserve" sets the order's items aside; its compensation puts them back
# when a later step of the order fails. The stock itself is simulated.
set -eu
. "$(dirname "$0")/../lib/worker.sh"

payload=$(cat)
order=$(field "$payload" order)

if compensating; then
  # The inputs hold what "reserve" answered: the reservation to release.
  reservation=$(field "$(flow_inputs)" reservation)
  echo "inventory: released $reservation (order $order)" >&2
  printf '{"released":"%s"}\n' "$reservation"
  exit 0
fi

sku=$(field "$payload" sku)
qty=$(field "$payload" qty)
case "$sku" in
  "") decline invalid_order "inventory: order $order names no sku" ;;
  sold-out*) decline out_of_stock "inventory: $sku is sold out" ;;
esac
reservation="R-$(job_tag)"
echo "inventory: reserved $qty x $sku as $reservation (order $order)" >&2
printf '{"reservation":"%s","sku":"%s","qty":%s}\n' "$reservation" "$sku" "$qty"
