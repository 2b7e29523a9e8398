"""The live fleet: devices followed and polled, and the runtime that wires it together."""
