"""Channel-variable names shared by the dialplan templates, the call flows and the classic AGI scripts.

The templates in asterisk_conf/ name them as {{var_greeted}} etc.: one place, no literals.
"""

INTAKE = "HOTLINE_INTAKE"  # "ivr" when our FastAGI greeted the caller, "fallback" when the dialplan did
GREETED = "HOTLINE_GREETED"  # "1" once the greeting has played; the dialplan then skips its own
PRIOR_CALLS = "HOTLINE_PRIOR_CALLS"  # calls from this number in the last 30 days
REPEAT_CALLER = "HOTLINE_REPEAT_CALLER"  # "1" when the number called in the last 24 hours
AGI_ERROR = "HOTLINE_AGI_ERROR"  # why the FastAGI session ended early, when it did
ENQUEUED = "HOTLINE_ENQUEUED"  # epoch seconds when the caller entered the queue

CONFERENCE_ROLE = "HOTLINE_CONFERENCE_ROLE"  # "caller" on the citizen's leg of a three-way hand-off
CALLBACK_ID = "HOTLINE_CALLBACK_ID"  # on a call out to a citizen: which callback it is
SURVEY_ID = "HOTLINE_SURVEY_ID"  # on a survey call to a citizen: which survey it is

CITIZENS_CONTEXT = "citizens"  # the context citizens' calls start in (asterisk_conf/extensions.conf.in)

# The AMI UserEvents by which the dialplan tells the call tracker who greeted the caller, and that the
# hotline ended a caller's wait (queue.max_wait_seconds).
INTAKE_EVENT = "HotlineIntake"
QUEUE_END_EVENT = "HotlineQueueEnd"
VOICEMAIL_EVENT = "HotlineVoicemail"  # the caller is about to leave a voicemail
POSITION = "HOTLINE_POSITION"  # where the caller re-enters the queue after an announcement
QUEUE_ENDED = "HOTLINE_QUEUE_ENDED"  # "1" when the hotline ended the wait (the classic AGI reads it)
NEXT = "HOTLINE_NEXT"  # what the waiting step decided: wait, or done (callback requested); intake: progress
NEXT_PROGRESS = "progress"  # the caller pressed the progress key during the greeting (工单进度查询)
LINE = "HOTLINE_LINE"  # the caller's service line, as its queue's name (hotline-general…)
QUEUE = "HOTLINE_QUEUE"  # the queue of the next stretch: the line's, or the direct queue of a repeat caller
STRETCH = "HOTLINE_STRETCH"  # seconds of the next stretch in Queue() before our code speaks again

# Set by Asterisk itself (app_queue with setinterfacevar / setqueueentryvar, and Queue()'s result).
MEMBER_NAME = "MEMBERNAME"  # the agent's id
MEMBER_INTERFACE = "MEMBERINTERFACE"  # PJSIP/<seat>
HOLD_TIME = "QEHOLDTIME"
QUEUE_STATUS = "QUEUESTATUS"
# Read by app_queue when the caller enters Queue().
QUEUE_PRIO = "QUEUE_PRIO"
QUEUE_MIN_PENALTY = "QUEUE_MIN_PENALTY"
QUEUE_MAX_PENALTY = "QUEUE_MAX_PENALTY"
