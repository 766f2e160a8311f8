"""Pure decision logic (no I/O): queues, agents, dispatch, deadlines."""
