"""Work orders (工单). So far: the drafts that voicemail creates; dispatch and deadlines come next."""
