"""ASGI entry of ``ptxseg serve``: MONAI Label's FastAPI app, hardened for a hospital network (``lib.endpoints``)."""

from lib.endpoints import hardened
from monailabel.app import app

app = hardened(app)
