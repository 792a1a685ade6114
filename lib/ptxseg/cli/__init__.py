"""The ``ptxseg`` command line: ``ptxseg.cli.main`` finds one module a command in this package.

Nothing is imported here: ``ptxseg --help`` must start fast.
"""
