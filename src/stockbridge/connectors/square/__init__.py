"""Square POS: inbound webhooks (sales, refunds, counts), the inventory target and a simulator."""
