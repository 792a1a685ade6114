"""Serving the model to annotators: settings, the served model and its store, champion/challenger promotion,
score cache, access token, HTTP hardening. Used by the MONAI Label app and ``ptxseg serve``.

Import the modules themselves (``ptxseg.serving.store``...): ``ptxseg serve`` must stay light (no torch).
"""
