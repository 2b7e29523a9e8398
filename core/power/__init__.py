"""Power control: outlets (PoE switch ports, PDU outlets, relay channels, the device itself),
the SNMP client that drives them, expected draw, interlocks and the power operations' steps."""
