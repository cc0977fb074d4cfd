"""badbuzz: tweet-sentiment MLOps for an airline (CLI entry point)."""
