"""Benchmarks: each runs both sides of a comparison in one process, prints a table with the
ratio, and writes a JSON result to benchmarks/results/. Run all with `make bench`
(`python -m benchmarks [NAME ...]`); BENCHMARKS.md is rewritten from the results."""
