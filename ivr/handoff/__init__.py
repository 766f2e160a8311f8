"""Emergency hand-off: an agent sends the caller on to 110, 119, 120 or 122 from the desk."""
