"""Timing scripts for ptxseg (model forward, the served /infer, training), run as ``python -m benchmarks.<name>``.

Results of a real run live in ``benchmarks/RESULTS.md``; ``python -m benchmarks.run_all`` rewrites it.
"""

__all__: list[str] = []
