"""ptxseg MONAI Label app: task configuration."""
