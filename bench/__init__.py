"""Benchmarks: scripts that print figures measured in one run on this machine. Run them from
the repository root as modules (`python -m bench.api_serving`), so that they can import the
process support they share with the tests (`tests.processes`)."""
