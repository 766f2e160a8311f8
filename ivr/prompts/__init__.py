"""What the hotline says to callers: one catalogue of texts, audio generated or dropped in."""
