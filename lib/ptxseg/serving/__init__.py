"""Serving the model to annotators, without MONAI Label itself (its app in ``monailabel_app/`` adapts these):

``settings`` (the conf, parsed once), ``served_model`` and ``store`` (the served checkpoint and its folder),
``promotion`` and ``training_stats`` (champion/challenger fine-tuning), ``scores`` (the active-learning score cache),
``token`` and ``http`` (access token, HTTP hardening), ``check_conf`` (a conf checked before a server starts),
``app_location`` (where the app lives) and ``install`` (``ptxseg export --app``).

Import the modules themselves (``ptxseg.serving.store``...): ``ptxseg serve`` must stay light (no torch).
"""
