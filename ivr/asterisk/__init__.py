"""Everything about the Asterisk we drive: where it lives, its rendered configuration, its process."""
