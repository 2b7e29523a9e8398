"""Thermal: ambient sensors stored like samples, protective policies with hysteresis, and
what they do (fan, shutdown, power cycle)."""
