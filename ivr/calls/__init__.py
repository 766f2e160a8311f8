"""Calls: the in-memory picture of live calls (from AMI and FastAGI) and its durable record."""
