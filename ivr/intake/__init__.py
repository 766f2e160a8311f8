"""The first call flow: greet the citizen, look the caller up, hand the call to the agents' queue."""
