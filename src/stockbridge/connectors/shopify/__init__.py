"""Shopify: order, fulfilment and refund webhooks in; available-to-sell out through the
GraphQL Admin API (`inventorySetQuantities`, compare-and-set, cost-based throttling).

`inbound` verifies and translates webhooks, `target` pushes availability, `simulator`
is a local store speaking the same protocol for tests and the demo.
"""
