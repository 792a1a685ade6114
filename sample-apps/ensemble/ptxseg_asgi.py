"""ASGI entry of ``ptxseg serve --app sample-apps/ensemble``: MONAI Label's app hardened as the main app's is."""

from monailabel.app import app

from ptxseg.serving.app_location import main_app_module
from ptxseg.serving.recipe_settings import RecipeSettings

app = main_app_module("lib/endpoints.py").hardened(app, RecipeSettings.from_environment("ensemble").serving)
