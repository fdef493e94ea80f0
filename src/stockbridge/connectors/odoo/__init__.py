"""Odoo: ERP postings over JSON-2 (19.0+) or JSON-RPC `execute_kw` (older versions), pulls
of the item master, price lists and stock, and a simulator of the models used."""
