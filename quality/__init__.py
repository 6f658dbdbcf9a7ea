"""Data-quality gates: Great Expectations suites and checkpoints, run as code."""
