"""ptxseg MONAI Label app: active-learning strategies and scoring."""
