"""Where a site's data and served model live: the site's own file, never the job's.

The job comes from the server, so it must not name folders at a site (a compromised server could point training at
anything). Each site's administrator writes a JSON file mapping the site's name to its MONAI Label studies folder
(images + ``labels/final``), its app's model folder (the champion and its record) and, optionally, the app's conf;
``PTXSEG_FEDERATED_SITES`` names that file in the environment the FLARE client starts from. The simulator's sites
share one file with one entry each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ptxseg.serving.settings import ServingSettings

__all__ = ["SITES_VARIABLE", "SiteConfig", "read_site_config"]

SITES_VARIABLE = "PTXSEG_FEDERATED_SITES"
_KEYS = {"studies", "model_dir", "conf"}


@dataclass(frozen=True)
class SiteConfig:
    """One site's folders and the conf its ptxseg app serves with (device, threshold, triage minimums...)."""

    name: str
    studies: Path
    model_dir: Path
    conf: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> ServingSettings:
        """The site app's settings, parsed as the app parses them."""
        return ServingSettings.from_conf(dict(self.conf))


def read_site_config(site: str, environ: Mapping[str, str] = os.environ) -> SiteConfig:
    """The entry of ``site`` in the file ``PTXSEG_FEDERATED_SITES`` names.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "sites.json"
        >>> _ = path.write_text('{"site-1": {"studies": "/data/studies", "model_dir": "/data/model"}}')
        >>> read_site_config("site-1", {SITES_VARIABLE: str(path)}).studies
        PosixPath('/data/studies')
        >>> read_site_config("site-2", {SITES_VARIABLE: str(path)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: ...sites.json has no entry for site 'site-2' (it has ['site-1']); add one with its studies...
    """
    location = environ.get(SITES_VARIABLE)
    if not location:
        raise ValueError(
            f"{SITES_VARIABLE} is not set: point it to a JSON file mapping this site's name to its studies and"
            " model_dir"
        )
    try:
        entries = json.loads(Path(location).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{SITES_VARIABLE}={location} cannot be read as JSON: {error}") from error
    if not isinstance(entries, dict) or site not in entries:
        names = sorted(entries) if isinstance(entries, dict) else []
        raise ValueError(
            f"{location} has no entry for site {site!r} (it has {names}); add one with its studies and model_dir"
        )
    entry = entries[site]
    if not isinstance(entry, dict) or not {"studies", "model_dir"} <= set(entry) or set(entry) - _KEYS:
        raise ValueError(f"{location}: site {site!r} needs exactly studies, model_dir and optionally conf")
    conf = entry.get("conf", {})
    if not isinstance(conf, dict):
        raise ValueError(f"{location}: the conf of site {site!r} must be an object of strings")
    return SiteConfig(site, Path(entry["studies"]), Path(entry["model_dir"]), {k: str(v) for k, v in conf.items()})
