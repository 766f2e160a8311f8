"""The SMS channel through the Kannel gateway (issue 6; so far its configuration and processes)."""
