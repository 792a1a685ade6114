"""The PACS over DICOMweb: search every page of CR/DX instances, retrieve one, store SEGs; errors that say why.

A thin layer over ``dicomweb_client`` that fixes what a hospital deployment needs and it does not: a timeout on
every request (its default waits forever), no silent retries with exponential back-off (a PACS outage must show as
an error within the timeout, not as a hang), paging that ends on servers which ignore ``offset`` (Orthanc 1.10:
dicomweb_client's own ``get_remaining`` loops forever there), and one exception, :class:`PacsUnavailable`, whose
message names the server and the reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pydicom
import requests
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset

__all__ = ["DX_FOR_PROCESSING", "InstanceRef", "PacsAuth", "PacsClient", "PacsUnavailable"]

DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
# QIDO fields ptxseg needs from each instance (PS3.18 10.6.1.2 lets a client ask for more than the defaults).
_FIELDS = (
    "00080016",  # SOP Class UID
    "00080018",  # SOP Instance UID
    "00080060",  # Modality
    "00080068",  # Presentation Intent Type
    "00080020",  # Study Date
    "00080022",  # Acquisition Date
    "00080032",  # Acquisition Time
    "00080023",  # Content Date
    "00080033",  # Content Time
    "0020000D",  # Study Instance UID
    "0020000E",  # Series Instance UID
)


class PacsUnavailable(RuntimeError):
    """The PACS cannot be used right now; the message names the server and the reason (shown as a 503)."""


@dataclass(frozen=True)
class PacsAuth:
    """How to authenticate: HTTP basic (``username`` and ``password``) or a bearer ``token``; ``ca_bundle`` is a
    PEM file of the certificate authorities to trust for https (default: the system's)."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        if self.token and self.username:
            raise ValueError("give either a bearer token or a user name and password for the PACS, not both")
        if bool(self.username) != bool(self.password):
            raise ValueError("PACS basic authentication needs both a user name and a password")


@dataclass(frozen=True)
class InstanceRef:
    """Where one image lives in the PACS and what the search said about it.

    ``acquired`` is the acquisition (else content, else study) date and time as DICOM writes it
    (``YYYYMMDDHHMMSS``, possibly shorter), or ``""`` when the PACS sent none; ``study_date`` the study's date.
    """

    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str
    sop_class_uid: str
    presentation_intent: str = ""
    acquired: str = ""
    study_date: str = ""

    @classmethod
    def from_qido(cls, item: Mapping) -> InstanceRef:
        """From one QIDO-RS JSON result (PS3.18 F.2).

        Example:
            >>> InstanceRef.from_qido({"00080018": {"vr": "UI", "Value": ["1.2.3"]}}).sop_uid
            '1.2.3'
        """

        def value(tag: str) -> str:
            values = item.get(tag, {}).get("Value") or [""]
            return str(values[0])

        date = value("00080022") or value("00080023") or value("00080020")
        time = (value("00080032") or value("00080033")) if date else ""
        return cls(
            study_uid=value("0020000D"),
            series_uid=value("0020000E"),
            sop_uid=value("00080018"),
            modality=value("00080060"),
            sop_class_uid=value("00080016"),
            presentation_intent=value("00080068"),
            acquired=(date + time.split(".")[0]),
            study_date=value("00080020"),
        )


class _TimeoutSession(requests.Session):
    """A session whose every request has a timeout unless one is given, and trusts the PACS's own CA bundle.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's ``verify``, but not a request's: so
    a ``--dicomweb-ca-bundle`` goes with each request and the environment cannot silently swap it.
    """

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(*args, **kwargs)


class PacsClient:
    """One DICOMweb server.

    Args:
        url: the DICOMweb root, e.g. ``http://127.0.0.1:8042/dicom-web`` (Orthanc's plugin).
        auth: credentials and trust; none by default.
        timeout_s: the longest a request may take before the PACS counts as unavailable.
        page_size: QIDO results asked for per request.

    Example:
        >>> pacs = PacsClient("http://127.0.0.1:8042/dicom-web", PacsAuth("ptxseg", "secret"))  # doctest: +SKIP
        >>> pacs.check()  # doctest: +SKIP
        >>> [ref.modality for ref in pacs.search_instances(("CR", "DX"))]  # doctest: +SKIP
        ['CR', 'DX']
    """

    def __init__(self, url: str, auth: PacsAuth | None = None, timeout_s: float = 30.0, page_size: int = 100):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the DICOMweb URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.auth = auth or PacsAuth()
        self.page_size = page_size
        session = _TimeoutSession(timeout_s)
        if self.auth.username:
            session.auth = (self.auth.username, self.auth.password)
        if self.auth.token:
            session.headers["Authorization"] = f"Bearer {self.auth.token}"
        if self.auth.ca_bundle:
            session.verify = self.auth.ca_bundle
        self.session = session  # also for the PACS's own change feed (``ptxseg.serving.dicomweb.changes``)
        self._client = DICOMwebClient(self.url, session=session)
        self._client.set_http_retry_params(retry=False)

    def check(self) -> None:
        """One small search, to fail at start with a clear message (unreachable, credentials, not DICOMweb).

        Raises:
            PacsUnavailable: the reason, with what to check.
        """
        self._call("search", self._client.search_for_studies, limit=1)

    def search_instances(
        self,
        modalities: tuple[str, ...],
        for_processing: bool = False,
        since: str | None = None,
        study_uid: str | None = None,
    ) -> Iterator[InstanceRef]:
        """Every instance of ``modalities`` on the server, page after page, each once; DX "for processing"
        images only when asked (they are raw detector data, not meant to be read). ``since`` (``YYYYMMDD``) keeps
        studies of that date or later (QIDO date range matching), ``study_uid`` one study."""
        seen: set[str] = set()
        filters = {"StudyDate": f"{since}-"} if since else {}
        for modality in modalities:
            offset = 0
            while True:
                page = self._call(
                    "search",
                    self._client.search_for_instances,
                    study_instance_uid=study_uid,
                    search_filters={"Modality": modality, **filters},
                    fields=_FIELDS,
                    limit=self.page_size,
                    offset=offset,
                )
                new = [InstanceRef.from_qido(item) for item in page]
                new = [ref for ref in new if ref.sop_uid and ref.sop_uid not in seen]
                if not new:  # an empty page, or a server that ignores offset and repeats the first one
                    break
                for ref in new:
                    seen.add(ref.sop_uid)
                    if ref.modality == modality and (for_processing or not _for_processing(ref)):
                        yield ref
                offset += len(page)

    def search_series_instances(self, modality: str, study_uid: str | None = None) -> list[InstanceRef]:
        """Every instance of one modality (SEGs), all pages; of one study when ``study_uid`` is given."""
        return list(self.search_instances((modality,), for_processing=True, study_uid=study_uid))

    def retrieve(self, ref: InstanceRef) -> bytes:
        """The instance as a DICOM file (Part 10 bytes), in the transfer syntax the PACS stores."""
        dataset = self._call(
            "retrieve",
            self._client.retrieve_instance,
            ref.study_uid,
            ref.series_uid,
            ref.sop_uid,
            media_types=(("application/dicom", "*"),),
        )
        buffer = io.BytesIO()
        dataset.save_as(buffer, write_like_original=False)
        return buffer.getvalue()

    def retrieve_dataset(self, ref: InstanceRef) -> Dataset:
        """The instance as a pydicom dataset."""
        return pydicom.dcmread(io.BytesIO(self.retrieve(ref)))

    def get_json(self, url: str, action: str) -> dict:
        """GET a JSON document of the PACS outside DICOMweb (its change feed), with the same errors as the rest."""

        def get() -> dict:
            response = self.session.get(url)
            response.raise_for_status()
            return response.json()

        return self._call(action, get)

    def store(self, dataset: Dataset) -> None:
        """STOW-RS one instance (a SEG) into its study."""
        self._call("store", self._client.store_instances, [dataset])

    def _call(self, action: str, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except requests.HTTPError as error:
            raise PacsUnavailable(self._http_reason(action, error.response)) from error
        except requests.Timeout as error:
            raise PacsUnavailable(f"PACS {self.url} did not answer the {action} in time ({error})") from error
        except requests.exceptions.SSLError as error:
            raise PacsUnavailable(
                f"PACS {self.url}: TLS verification failed ({error}); give its certificate authority with "
                "--dicomweb-ca-bundle"
            ) from error
        except requests.ConnectionError as error:
            raise PacsUnavailable(f"PACS {self.url} is unreachable ({type(error).__name__}): is it running?") from error
        except ValueError as error:  # dicomweb_client: a body that is not DICOMweb JSON or multipart
            raise PacsUnavailable(f"PACS {self.url} sent an unexpected answer to the {action}: {error}") from error

    def _http_reason(self, action: str, response) -> str:
        status = response.status_code if response is not None else "?"
        if status in (401, 403):
            return (
                f"PACS {self.url} refused the credentials (HTTP {status}) for the {action}: check "
                "--dicomweb-user and PTXSEG_DICOMWEB_PASSWORD(_FILE), or PTXSEG_DICOMWEB_TOKEN(_FILE)"
            )
        if status == 404:
            return f"PACS {self.url} has no DICOMweb service there (HTTP 404 for the {action}): check the URL"
        return f"PACS {self.url} failed the {action} (HTTP {status}: {response.text[:200] if response else ''})"


def _for_processing(ref: InstanceRef) -> bool:
    return ref.sop_class_uid == DX_FOR_PROCESSING or ref.presentation_intent.upper() == "FOR PROCESSING"
