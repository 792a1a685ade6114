"""ptxseg MONAI Label app: inference tasks."""
