"""Protective policies (thermal, power, reachability): the rules with hysteresis, where they
come from (defaults, config, the `policies` table), their evaluation where health readings
arrive, and what they do when they fire or clear."""
