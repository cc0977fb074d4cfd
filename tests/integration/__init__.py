"""Integration tests: real servers and the real CLI, on loopback."""
