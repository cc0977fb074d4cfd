"""What keeps the service honest in production: the windowed error monitor, reports, the
mailer's durable outbox and the scheduled jobs (the alerts issue builds them here)."""
