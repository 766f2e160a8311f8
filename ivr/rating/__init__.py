"""Post-call rating: when the agent hangs up, the citizen rates the call with one key."""
