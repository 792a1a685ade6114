"""The PACS flags of a command checked before anything heavy is imported (``ptxseg serve`` stays small)."""

from __future__ import annotations

__all__ = ["refuse_pacs_options_without_pacs"]


def refuse_pacs_options_without_pacs(url: str | None, user: str | None, ca_bundle: str | None) -> None:
    """A command's ``--dicomweb-user`` or ``--dicomweb-ca-bundle`` without a PACS would be silently ignored: refuse.

    Example:
        >>> refuse_pacs_options_without_pacs("https://pacs/dicom-web", "ptxseg", None)
        >>> refuse_pacs_options_without_pacs(None, "ptxseg", None)
        Traceback (most recent call last):
        ValueError: --dicomweb-user applies to a PACS only: give --dicomweb URL too, or drop it
    """
    given = [flag for flag, value in (("--dicomweb-user", user), ("--dicomweb-ca-bundle", ca_bundle)) if value]
    if given and not url:
        verb, them = ("apply", "them") if len(given) > 1 else ("applies", "it")
        raise ValueError(f"{' and '.join(given)} {verb} to a PACS only: give --dicomweb URL too, or drop {them}")
