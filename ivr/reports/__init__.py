"""Supervisors' figures: call-side KPIs and agent times over any period."""
