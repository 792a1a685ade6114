"""Pure-Python core of the PneumothoraxAnnotator Slicer module: server client, session rules, label files.

Imports neither slicer, qt, ctk nor vtk, so everything here is tested with pytest outside Slicer. Runs on
Python 3.9+ (Slicer 5.6 ships 3.9).
"""

from .client import DEFAULT_MODEL, DEFAULT_SCORING_METHOD, STRATEGIES, PtxsegClient
from .errors import (
    ClientError,
    NotFound,
    ProtocolError,
    ServerBusy,
    ServerError,
    ServerTimeout,
    ServerUnavailable,
    Unauthorized,
)
from .server_info import ServerInfo
from .training import TrainingProgress
from .workflow import AnnotationSession, Prediction, label_info
from .worklist import FINAL_TAG, WorklistRow, worklist_rows

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SCORING_METHOD",
    "FINAL_TAG",
    "STRATEGIES",
    "AnnotationSession",
    "ClientError",
    "NotFound",
    "Prediction",
    "ProtocolError",
    "PtxsegClient",
    "ServerBusy",
    "ServerError",
    "ServerInfo",
    "ServerTimeout",
    "ServerUnavailable",
    "TrainingProgress",
    "Unauthorized",
    "WorklistRow",
    "label_info",
    "worklist_rows",
]
