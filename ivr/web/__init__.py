"""The web side: health now; the agents' desk, portal and API hang off the same application."""
