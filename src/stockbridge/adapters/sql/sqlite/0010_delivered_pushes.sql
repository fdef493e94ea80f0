-- Delivered availability pushes by delivery time: the dashboard's propagation latency
-- reads the most recent ones without scanning every delivery ever kept.

CREATE INDEX deliveries_delivered_pushes ON deliveries (delivered_us)
    WHERE state = 'delivered' AND kind = 'availability';
