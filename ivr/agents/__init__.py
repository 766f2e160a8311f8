"""Agents (people) and seats (softphone endpoints): log-in, pause, and the state Asterisk is kept in."""
