"""Monitoring the served model: what it was asked and said (``store``), input drift and agreement with the final
labels per period and source (``analysis``), the summary the app serves (``summary``), the report (``report``).
"""
