"""Fresh installs: the serving image built as its Dockerfile builds it, and the demo."""
