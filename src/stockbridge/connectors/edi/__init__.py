"""EDI ANSI X12 with 3PL warehouses: 940/943 out, 944/945/947/846 in, 997 both ways."""
