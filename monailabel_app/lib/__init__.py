"""ptxseg MONAI Label app."""
