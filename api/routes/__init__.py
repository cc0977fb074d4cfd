"""One router per resource: predictions, feedback, health (and the model card and metrics),
alerts (and the bad-buzz watch), admin."""
