"""What keeps the service honest in production (so far: CPU checks; next: the windowed
error monitor, reports, the mailer's durable outbox, scheduled jobs)."""
