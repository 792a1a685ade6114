"""The PACS's own change feed, where it has one: which studies received instances since the last look.

DICOMweb has no "received since" query: a study is found by its own date, so a prior imported today with last
year's date would wait for the next full search. Orthanc (the PACS of the tests, and common in research hospitals)
keeps a numbered log of changes (``GET /changes?since=N``, next to its ``/dicom-web`` root). When the DICOMweb root
is such an Orthanc's, the studies with new instances come from there: one request per look plus one per new
instance, whatever the archive size. Any other PACS answers no feed, and the date-based search is used.
"""

from __future__ import annotations

import logging

from ptxseg.serving.dicomweb.client import PacsClient, PacsUnavailable

__all__ = ["OrthancChanges", "change_feed"]

LOGGER = logging.getLogger(__name__)
DICOMWEB_SUFFIX = "/dicom-web"
_PAGE = 1000


class OrthancChanges:
    """Orthanc's change log, read from position ``last`` on."""

    def __init__(self, client: PacsClient, root: str, last: int):
        self.client = client
        self.root = root
        self.last = last

    def new_studies(self) -> set[str]:
        """Study Instance UIDs that received an instance since the last call (``PacsUnavailable`` when the PACS
        does not answer)."""
        studies: set[str] = set()
        done = False
        while not done:
            page = self._get(f"/changes?since={self.last}&limit={_PAGE}")
            for change in page.get("Changes", []):
                if change.get("ChangeType") == "NewInstance":
                    study = self._get(f"/instances/{change['ID']}/study")
                    studies.add(study.get("MainDicomTags", {}).get("StudyInstanceUID", ""))
            self.last, done = int(page.get("Last", self.last)), bool(page.get("Done", True))
        return studies - {""}

    def _get(self, path: str) -> dict:
        return self.client.get_json(self.root + path, "change-feed read")


def change_feed(client: PacsClient) -> OrthancChanges | None:
    """The change feed of the PACS behind ``client``, positioned at its end, or None when it has none."""
    if not client.url.endswith(DICOMWEB_SUFFIX):
        return None
    root = client.url[: -len(DICOMWEB_SUFFIX)]
    try:
        last = int(client.get_json(f"{root}/changes?last", "change-feed check")["Last"])
    except (PacsUnavailable, KeyError, TypeError, ValueError):
        last = None
    if last is None:
        LOGGER.info("PACS %s has no change feed: new studies are found by their date", client.url)
        return None
    LOGGER.info("PACS %s: new studies come from its change feed", client.url)
    return OrthancChanges(client, root, last)
