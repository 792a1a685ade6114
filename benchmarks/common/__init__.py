"""What the benchmark scripts share: the machine's description, model inputs, timing, memory, the report table,
and the stock MONAI Label pipeline they are compared with. Nothing here is a script."""

__all__: list[str] = []
