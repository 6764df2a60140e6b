"""Throughput benchmarks of lakeforge against a peer, run as modules from the repository root:
``python -m bench.<name> [--smoke] [--json]`` (bench/README.md lists them and their latest figures)."""
