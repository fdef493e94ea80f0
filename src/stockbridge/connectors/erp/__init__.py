"""What every ERP connector shares: the documents a posting becomes, and the port an ERP
implements to file them (find by our reference, create, apply)."""
