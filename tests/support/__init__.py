"""Helpers shared by the tests: files in every format, small models, phantom training, a running server."""
