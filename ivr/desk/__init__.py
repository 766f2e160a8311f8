"""The agents' web desk: log-in, seat log-in, pause and resume, live state and the screen-pop."""
