"""How ptxseg reaches a PACS: the URL and credentials from the environment (never on a command line, where every
user of the machine can read them), the serving options from the app's ``--conf`` keys listed in ``CONF_KEYS``.

``ptxseg serve --dicomweb URL`` sets the environment for the server it starts:

==================================  ====================================================================
``PTXSEG_DICOMWEB_URL``             the DICOMweb root, e.g. ``https://pacs.example.org/dicom-web``
``PTXSEG_DICOMWEB_USER``            basic-auth user name (its password in ``PTXSEG_DICOMWEB_PASSWORD``
                                    or the file ``PTXSEG_DICOMWEB_PASSWORD_FILE``)
``PTXSEG_DICOMWEB_TOKEN(_FILE)``    a bearer token instead
``PTXSEG_DICOMWEB_CA_BUNDLE``       PEM file of the certificate authorities to trust for https
==================================  ====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from ptxseg.options import check_at_least, parse_text
from ptxseg.serving.dicomweb.client import PacsAuth, PacsClient
from ptxseg.serving.dicomweb.eligibility import ScreeningPolicy, ScreeningRules

__all__ = ["CONF_KEYS", "ENVIRONMENT_KEYS", "PacsSettings", "connect_from_command_line", "secret_from_environment"]

ENVIRONMENT_KEYS = {
    "url": "PTXSEG_DICOMWEB_URL",
    "user": "PTXSEG_DICOMWEB_USER",
    "password": "PTXSEG_DICOMWEB_PASSWORD",
    "token": "PTXSEG_DICOMWEB_TOKEN",
    "ca_bundle": "PTXSEG_DICOMWEB_CA_BUNDLE",
}


def secret_from_environment(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """``environ[name]``, else the stripped content of the file ``environ[name + "_FILE"]``, else None.

    Example:
        >>> secret_from_environment("PTXSEG_DICOMWEB_PASSWORD", {"PTXSEG_DICOMWEB_PASSWORD": "s3cret"})
        's3cret'
    """
    if environ.get(name):
        return environ[name]
    path = environ.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text().strip() or None
    except OSError as error:
        raise ValueError(f"{name}_FILE={path} cannot be read: {error.strerror}") from error


@dataclass(frozen=True)
class PacsSettings:
    """Everything about serving from a PACS and pre-screening its images; conf keys are the field names (the triage
    qualification minimums are ``ServingSettings``': promotion measures them, with or without a PACS).

    Example:
        >>> settings = PacsSettings.from_conf({"dicomweb_modalities": "CR", "prescreen": "true"}, url="http://x/")
        >>> settings.modalities, settings.prescreen
        (('CR',), True)
    """

    url: str
    auth: PacsAuth = field(default_factory=PacsAuth)
    dicomweb_modalities: str = "CR,DX"
    dicomweb_for_processing: bool = False
    dicomweb_cache_mb: int = 2048
    dicomweb_refresh_s: float = 10.0
    dicomweb_timeout_s: float = 30.0
    dicomweb_full_scan_s: float = 3600.0
    prescreen: bool = False
    prescreen_interval_s: float = 10.0
    prescreen_body_parts: str = "CHEST,THORAX"
    prescreen_missing_body_part: bool = True
    prescreen_views: str = "PA,AP"
    prescreen_missing_view: bool = True
    prescreen_min_age: float = 18.0
    prescreen_unknown_age: bool = True
    prescreen_max_attempts: int = 3
    prescreen_retry_s: float = 60.0
    prescreen_rescreen_days: int = 0

    def __post_init__(self) -> None:
        if not self.modalities:
            raise ValueError("dicomweb_modalities must name at least one modality, e.g. CR,DX")
        check_at_least("dicomweb_cache_mb", self.dicomweb_cache_mb, 1)
        check_at_least("prescreen_max_attempts", self.prescreen_max_attempts, 1)
        check_at_least("prescreen_rescreen_days", self.prescreen_rescreen_days, 0)
        check_at_least("prescreen_min_age", self.prescreen_min_age, 0)
        intervals = ("dicomweb_refresh_s", "dicomweb_timeout_s", "prescreen_interval_s", "prescreen_retry_s")
        for name in (*intervals, "dicomweb_full_scan_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}")

    @property
    def modalities(self) -> tuple[str, ...]:
        """The served modalities, upper case."""
        return _upper_list(self.dicomweb_modalities)

    @property
    def rules(self) -> ScreeningRules:
        """What pre-screening analyses and how it retries (``ptxseg.serving.dicomweb.eligibility``)."""
        policy = ScreeningPolicy(
            body_parts=_upper_list(self.prescreen_body_parts),
            screen_missing_body_part=self.prescreen_missing_body_part,
            views=_upper_list(self.prescreen_views),
            screen_missing_view=self.prescreen_missing_view,
            min_age_years=self.prescreen_min_age,
            screen_unknown_age=self.prescreen_unknown_age,
        )
        return ScreeningRules(
            policy,
            self.prescreen_max_attempts,
            self.prescreen_retry_s,
            self.prescreen_rescreen_days,
            self.dicomweb_refresh_s,
        )

    @classmethod
    def from_conf(cls, conf: Mapping[str, str], url: str, auth: PacsAuth | None = None) -> PacsSettings:
        """Parse the PACS keys of an app conf (other keys are the app's, and ignored here)."""
        values = {
            item.name: parse_text(item.name, item.type, conf[item.name])
            for item in fields(cls)
            if item.name in conf and item.name in CONF_KEYS
        }
        return cls(url=url, auth=auth or PacsAuth(), **values)

    @classmethod
    def from_environment(cls, conf: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> PacsSettings | None:
        """The settings when ``PTXSEG_DICOMWEB_URL`` is set, else None (the app serves its studies folder)."""
        url = environ.get(ENVIRONMENT_KEYS["url"])
        if not url:
            return None
        auth = PacsAuth(
            username=environ.get(ENVIRONMENT_KEYS["user"]) or None,
            password=secret_from_environment(ENVIRONMENT_KEYS["password"], environ),
            token=secret_from_environment(ENVIRONMENT_KEYS["token"], environ),
            ca_bundle=environ.get(ENVIRONMENT_KEYS["ca_bundle"]) or None,
        )
        return cls.from_conf(conf, url, auth)

    def client(self) -> PacsClient:
        """A client of the PACS with these credentials and timeout."""
        return PacsClient(self.url, self.auth, timeout_s=self.dicomweb_timeout_s)

    def studies(self, folder: str | os.PathLike):
        """The served studies (a ``PacsStudies``) with their local state in ``folder``."""
        from ptxseg.serving.dicomweb.studies import PacsStudies

        return PacsStudies(
            self.client(),
            folder,
            modalities=self.modalities,
            for_processing=self.dicomweb_for_processing,
            cache_bytes=self.dicomweb_cache_mb * 2**20,
            refresh_s=self.dicomweb_refresh_s,
            full_scan_s=self.dicomweb_full_scan_s,
        )


def connect_from_command_line(
    url: str, user: str | None, ca_bundle: str | None, conf: Mapping[str, str]
) -> PacsSettings:
    """The settings of ``--dicomweb URL --dicomweb-user U --dicomweb-ca-bundle PEM`` (secrets from the environment),
    exported to this process's environment for the server it starts, checked against the PACS before anything
    starts.

    Raises:
        ValueError: the PACS cannot be used (unreachable, credentials refused, not DICOMweb), saying why.
    """
    from ptxseg.serving.dicomweb.client import PacsUnavailable

    os.environ[ENVIRONMENT_KEYS["url"]] = url
    for key, value in (("user", user), ("ca_bundle", ca_bundle)):
        if value:
            os.environ[ENVIRONMENT_KEYS[key]] = value
    settings = PacsSettings.from_environment(conf)
    try:
        settings.client().check()
    except PacsUnavailable as error:
        raise ValueError(f"cannot use the PACS: {error}") from error
    return settings


CONF_KEYS = frozenset(item.name for item in fields(PacsSettings) if item.name not in ("url", "auth"))


def _upper_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())
