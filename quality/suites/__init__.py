"""Expectation suites as code: one module per warehouse table, named after the table."""
