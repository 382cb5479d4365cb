"""Throughput benchmark for the intake pathway: SpiffWorkflow alone in memory against the engine
services persisting every user action to SQLite. Run with `python -m bench` (or `make bench`).

Prints figures only; it asserts no thresholds. See `python -m bench --help`.
"""
