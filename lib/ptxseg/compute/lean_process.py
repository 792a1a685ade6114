"""``python -m ptxseg.compute.lean_process MODULE ARGS...``: run ``MODULE`` as ``__main__`` without the optional
libraries that importing MONAI loads eagerly and ptxseg's processes never use.

``import monai`` imports every installed optional dependency, and MONAI Label depends on ``monai[mlflow]``, so
MLflow and its pandas and pyarrow are always installed; Triton (the GPU kernel compiler of ``torch.compile``) comes
with torch. Measured on 2 cores: MONAI Label's server imports hold 1051 MB RSS, 884 MB without these four. The
server (``monailabel.main``) and the runtime-measuring child (``ptxseg.inference.runtime_choice``) start this way;
MONAI treats each library as not installed (its ``optional_import`` fails softly).
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Mapping

__all__ = ["UNUSED_LIBRARIES", "lean_command", "main", "unused_libraries"]

# MLflow's experiment tracking is off unless MONAI_LABEL_TRACKING_ENABLED turns it on; pandas and pyarrow are
# imported for it and for MONAI's CSV datasets, which ptxseg does not read.
TRACKING_LIBRARIES = ("mlflow", "pandas", "pyarrow")
UNUSED_LIBRARIES = (*TRACKING_LIBRARIES, "triton")


def unused_libraries(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The libraries a lean process starts without: all of ``UNUSED_LIBRARIES``, MLflow's only while tracking is off.

    Example:
        >>> unused_libraries({"MONAI_LABEL_TRACKING_ENABLED": "false"})
        ('mlflow', 'pandas', 'pyarrow', 'triton')
        >>> unused_libraries({"MONAI_LABEL_TRACKING_ENABLED": "true"})
        ('triton',)
    """
    tracking = environ.get("MONAI_LABEL_TRACKING_ENABLED", "false").strip().lower() in ("1", "true", "yes")
    return tuple(name for name in UNUSED_LIBRARIES if not (tracking and name in TRACKING_LIBRARIES))


def lean_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args...`` as a lean process.

    Example:
        >>> lean_command("monailabel.main", "start_server")[1:]
        ['-m', 'ptxseg.compute.lean_process', 'monailabel.main', 'start_server']
    """
    return [sys.executable, "-m", __name__, module, *args]


def main() -> None:
    """Mark the unused libraries as not installed, then run the module named by the first argument."""
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: python -m {__spec__.name} MODULE [ARGS...]")
    for name in unused_libraries():
        sys.modules.setdefault(name, None)  # None in sys.modules: "import name" raises ImportError
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
