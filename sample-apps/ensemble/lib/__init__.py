"""ptxseg sample app: its task config."""
