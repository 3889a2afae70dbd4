"""buka_nb's benchmark suite: ``python -m benchmarks.run`` (not part of the test run)."""
