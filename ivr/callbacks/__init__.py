"""Calling citizens back: every missed call becomes a callback, dialled when an agent is free."""
