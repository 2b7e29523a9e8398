"""Thermal and power monitoring read models: the thermal dashboard, power draw against
rack budgets, their CSV reports, and fan settings."""
