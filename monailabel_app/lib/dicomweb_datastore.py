"""MONAI Label's Datastore over ptxseg's PACS studies (``ptxseg.serving.dicomweb.studies``): errors mapped to HTTP.

The PACS down is a 503 with its reason, an unknown id a 404, a bad label a 422; images are the PACS's own, so
adding or removing one over HTTP is refused (405). Offers the same extras as ``PtxsegDatastore`` (``image_path``,
``check_known``, ``unreadable_reason``, ``studies_folder``), so the app's tasks work unchanged on either.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

from fastapi import HTTPException
from monailabel.interfaces.datastore import Datastore

from lib.datastore import check_image_id
from ptxseg.image import CXRReadError
from ptxseg.io.labels import read_label
from ptxseg.io.reader import read_cxr
from ptxseg.serving.dicomweb.client import PacsUnavailable
from ptxseg.serving.dicomweb.studies import PacsStudies, UnknownImage
from ptxseg.serving.monitoring.store import MonitorStore


@contextmanager
def _http_errors():
    try:
        yield
    except PacsUnavailable as error:
        raise HTTPException(503, str(error)) from error
    except UnknownImage as error:
        raise HTTPException(404, f"image {error.args[0]!r} is not a served CR/DX instance of the PACS") from error
    except ValueError as error:
        raise HTTPException(422, str(error)) from error


class DicomwebDatastore(Datastore):
    """The PACS's CR/DX instances, one image per SOP instance; labels go back as DICOM SEG."""

    def __init__(self, studies: PacsStudies, monitor: MonitorStore | None = None):
        self.studies = studies
        self.monitor = monitor
        self._name = "PACS"
        self._description = f"CR/DX instances of {studies.client.url}"
        self._unreadable: dict[str, str] = {}

    def name(self) -> str:
        return self._name

    def set_name(self, name: str) -> None:
        self._name = name

    def description(self) -> str:
        return self._description

    def set_description(self, description: str) -> None:
        self._description = description

    def studies_folder(self) -> Path:
        """The local state folder (cache, labels)."""
        return self.studies.folder

    def image_files_folder(self) -> Path:
        """Where the served images lie as files (int8 calibrates on them): the instances fetched so far."""
        return self.studies.cache.folder

    def check_known(self, identifier: str) -> str:
        """A safe id of a served instance; 400 for a hostile id, 404 for an unknown one, 503 when the PACS is down."""
        check_image_id(identifier)
        with _http_errors():
            self.studies.ref(identifier)
        return identifier

    def unreadable_reason(self, identifier: str) -> str | None:
        """Why a fetched image cannot be read, or None (known once it has been fetched)."""
        return self._unreadable.get(identifier)

    def image_path(self, identifier: str) -> Path:
        """The cached file of a served, readable image (fetched once); 404/422/503 otherwise."""
        self.check_known(identifier)
        with _http_errors():
            path = Path(self.studies.get_image_uri(identifier))
        if identifier not in self._unreadable:
            try:
                read_cxr(path)
            except CXRReadError as error:
                self._unreadable[identifier] = str(error).replace(str(path), identifier)
        if identifier in self._unreadable:
            raise HTTPException(422, f"image {identifier!r} cannot be read: {self._unreadable[identifier]}")
        return path

    def datalist(self):
        with _http_errors():
            return self.studies.datalist()

    def get_labels_by_image_id(self, image_id: str):
        return self.studies.get_labels_by_image_id(image_id)

    def get_label_by_image_id(self, image_id: str, tag: str) -> str:
        return image_id if tag in self.studies.get_labels_by_image_id(image_id) else ""

    def get_image(self, image_id: str, params=None):
        return io.BytesIO(self.image_path(image_id).read_bytes())

    def get_image_uri(self, image_id: str) -> str:
        return str(self.image_path(image_id))

    def get_label(self, label_id: str, label_tag: str, params=None):
        return io.BytesIO(Path(self.get_label_uri(label_id, label_tag)).read_bytes())

    def get_label_uri(self, label_id: str, label_tag: str) -> str:
        with _http_errors():
            return self.studies.get_label_uri(label_id, label_tag)

    def get_image_info(self, image_id: str):
        self.check_known(image_id)
        with _http_errors():
            return self.studies.get_image_info(image_id)

    def get_label_info(self, label_id: str, label_tag: str):
        info = self.studies.get_label_info(label_id, label_tag)
        if not info:
            raise HTTPException(404, f"image {label_id!r} has no label tagged {str(label_tag)[:40]!r}")
        return info

    def get_labeled_images(self, label_tag=None, labels=None):
        return self.studies.get_labeled_images(label_tag)

    def get_unlabeled_images(self, label_tag=None, labels=None):
        return [image for image in self.studies.get_unlabeled_images(label_tag) if image not in self._unreadable]

    def list_images(self):
        return self.studies.list_images()

    def get_dataset_archive(self, limit_cases):
        raise HTTPException(405, "the PACS holds the images: download them from it, not through ptxseg")

    def refresh(self) -> None:
        self.studies.refresh(force=True)

    def add_image(self, image_id: str, image_filename: str, image_info):
        raise HTTPException(405, "images come from the PACS: store them there and ptxseg picks them up")

    def remove_image(self, image_id: str) -> None:
        raise HTTPException(405, "images come from the PACS: remove them there")

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info) -> str:
        check_image_id(image_id)
        with _http_errors():
            saved = self.studies.save_label(image_id, label_filename, label_tag, label_info)
            if label_tag == "final" and self.monitor is not None:  # the annotators' word, for real-world agreement
                self.monitor.record_label(image_id, read_label(self.studies.get_label_uri(image_id, label_tag)))
            return saved

    def remove_label(self, label_id: str, label_tag: str) -> None:
        raise HTTPException(405, "labels are DICOM SEG in the PACS: remove them there")

    def update_image_info(self, image_id: str, info) -> None:
        with _http_errors():
            self.studies.update_image_info(image_id, info)

    def update_label_info(self, label_id: str, label_tag: str, info) -> None:
        raise HTTPException(405, "label info lives in the SEG in the PACS")

    def status(self):
        return self.studies.status()

    def json(self):
        return self.studies.json()
