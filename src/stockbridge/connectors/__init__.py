"""Connectors: one module per external platform, each speaking that platform's protocol."""
