"""Channel-variable names shared by the dialplan templates and the call flows (one place, no literals)."""

INTAKE = "HOTLINE_INTAKE"  # "ivr" when our FastAGI greeted the caller, "fallback" when the dialplan did
GREETED = "HOTLINE_GREETED"  # "1" once the greeting has played; the dialplan then skips its own
PRIOR_CALLS = "HOTLINE_PRIOR_CALLS"  # calls from this number in the last 30 days
REPEAT_CALLER = "HOTLINE_REPEAT_CALLER"  # "1" when the number called in the last 24 hours
AGI_ERROR = "HOTLINE_AGI_ERROR"  # why the FastAGI session ended early, when it did
