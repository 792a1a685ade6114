"""What conf ``model PATH`` does at a server start: install the checkpoint it names, unless that is served already or
a model fine-tuned from it has replaced it since.

The second case keeps a restart with an unchanged command line (a service's) from undoing a promoted fine-tuning;
the server then says so at start and in ``/info`` (``settings_ignored``), with the one command that serves the
checkpoint again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ptxseg.model.identity import file_digest
from ptxseg.serving.install import load_problem
from ptxseg.serving.store import ModelStore

__all__ = ["ConfModelPlan", "plan_conf_model"]


@dataclass(frozen=True)
class ConfModelPlan:
    """Whether to install the conf's checkpoint; ``reason`` says what happens and why (for the log).

    ``ignored`` is True when the checkpoint is not served although it was asked for: ``reason`` then also goes to
    ``/info``.
    """

    install: bool
    reason: str
    ignored: bool = False


def plan_conf_model(checkpoint: str | Path, store: ModelStore) -> ConfModelPlan:
    """What conf ``model=checkpoint`` does to the model folder ``store``; nothing is changed here.

    Raises:
        ValueError: the checkpoint cannot be served, saying why.

    Example:
        >>> import tempfile
        >>> plan_conf_model("/models/none.safetensors", ModelStore(tempfile.mkdtemp()))
        Traceback (most recent call last):
        ValueError: conf model=/models/none.safetensors cannot be served: checkpoint not found: none.safetensors
    """
    checkpoint = Path(checkpoint)
    problem = load_problem(checkpoint)
    if problem is not None:
        raise ValueError(f"conf model={checkpoint} cannot be served: {problem}")
    asked = file_digest(checkpoint)
    if not store.has_model():
        return ConfModelPlan(True, f"conf model={checkpoint} (sha256 {asked[:12]}) installed as the served model")
    record = store.read_record()
    served = f"version {record.version} ({record.source or 'source not recorded'})"
    if file_digest(store.served_path) == asked:
        return ConfModelPlan(False, f"conf model={checkpoint} is the served model already: {served}")
    if record.conf_model_sha256 == asked:
        return ConfModelPlan(
            False,
            f"conf model={checkpoint} is not served: it was installed at an earlier start and {served} has replaced "
            f"it since, which a restart does not undo; to serve it again: ptxseg export --model {checkpoint} "
            f"--app {store.directory}",
            ignored=True,
        )
    return ConfModelPlan(
        True,
        f"conf model={checkpoint} (sha256 {asked[:12]}) differs from the served {served}: installed as the served "
        f"model; the one it replaces is kept as {store.previous_path.name}",
    )
