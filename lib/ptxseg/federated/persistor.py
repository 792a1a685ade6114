"""The server's global model as a ptxseg checkpoint: loaded from the job's initial checkpoint, saved each round.

FLARE's PyTorch persistor writes bare ``.pt`` state dicts; this one keeps the initial checkpoint's metadata (encoder,
input size, normalisation), so ``ptxseg_global.safetensors`` is a model every ptxseg front end loads as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from nvflare.apis.fl_constant import FLContextKey
from nvflare.app_common.abstract.model import ModelLearnable, ModelLearnableKey, make_model_learnable
from nvflare.app_common.abstract.model_persistor import ModelPersistor
from nvflare.app_common.app_constant import AppConstants

from ptxseg.federated.weights import checkpoint_weights, write_weights_checkpoint

__all__ = ["GLOBAL_NAME", "CheckpointPersistor"]

GLOBAL_NAME = "ptxseg_global.safetensors"


class CheckpointPersistor(ModelPersistor):
    """Reads ``initial_checkpoint`` (a path, or a name in the server app's ``custom`` folder) and writes the global."""

    def __init__(self, initial_checkpoint: str):
        super().__init__()
        self.initial_checkpoint = initial_checkpoint
        self._metadata = None

    def _app_root(self, fl_ctx) -> Path:
        return Path(fl_ctx.get_prop(FLContextKey.APP_ROOT))

    def load_model(self, fl_ctx) -> ModelLearnable:
        path = Path(self.initial_checkpoint)
        if not path.is_absolute():
            path = self._app_root(fl_ctx) / "custom" / path
        if not os.path.isfile(path):
            self.system_panic(f"the initial checkpoint {path} does not exist", fl_ctx)
            raise ValueError(f"the initial checkpoint {path} does not exist")
        weights, self._metadata = checkpoint_weights(path)
        return make_model_learnable(weights, {})

    def save_model(self, model: ModelLearnable, fl_ctx) -> None:
        round_number = fl_ctx.get_prop(AppConstants.CURRENT_ROUND)
        self._metadata.update(training_data={"source": "federated (FedAvg)", "round": round_number})
        write_weights_checkpoint(model[ModelLearnableKey.WEIGHTS], self._metadata, self._app_root(fl_ctx) / GLOBAL_NAME)
