"""ptxseg MONAI Label app: training tasks."""
