"""ASGI entry of ``ptxseg serve``: MONAI Label's FastAPI app, hardened for a hospital network (``lib.endpoints``)."""

from lib.endpoints import hardened
from monailabel.app import app
from monailabel.interfaces.utils.app import app_instance

app = hardened(app)


@app.get("/worklist/", summary="Pre-screening worklist: flagged first, with probability, flag, acquisition, review")
def worklist():
    """The PACS pre-screening worklist (``--dicomweb URL --conf prescreen true``); 404 when pre-screening is off."""
    return app_instance().worklist()
