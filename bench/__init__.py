"""bridgeline's benchmarks: ``python -m bench`` (``make bench``) runs them and writes docs/benchmarks.md."""
