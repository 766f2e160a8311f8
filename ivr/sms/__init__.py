"""The SMS channel through the Kannel gateway (issue 6; docs/sms.md): Kannel's configuration and processes,
the sender, incoming SMS and delivery reports."""
