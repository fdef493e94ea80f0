"""Amazon Selling Partner API: listings quantities out (patches or a JSON listings feed),
order changes in (relayed ORDER_CHANGE notifications, or getOrders polling), and a local
simulator of the endpoints involved."""
