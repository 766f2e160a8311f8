"""The AMI client (on panoramisk) and the queue state it keeps current."""
