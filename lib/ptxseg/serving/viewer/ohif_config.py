"""OHIF's ``app-config.js`` for the ptxseg server: one DICOMweb source, the server's own read-only pass-through to
the configured PACS (same origin, so neither CORS nor a second login), and the router under the viewer's path."""

from __future__ import annotations

import json

from ptxseg.serving.viewer.ohif_files import VIEWER_PATH

__all__ = ["DICOMWEB_PATH", "app_config_js"]

DICOMWEB_PATH = "/review/dicomweb"


def app_config_js() -> str:
    """The viewer's configuration script; the DICOMweb roots are the page's own origin plus ``DICOMWEB_PATH``
    (OHIF needs absolute roots; the origin is only known in the browser).

    Example:
        >>> "routerBasename" in app_config_js() and DICOMWEB_PATH in app_config_js()
        True
    """
    source = {
        "friendlyName": "PACS through ptxseg",
        "name": "ptxseg",
        "qidoSupportsIncludeField": False,
        "imageRendering": "wadors",
        "thumbnailRendering": "wadors",
        "enableStudyLazyLoad": True,
        # Orthanc and most PACS match names exactly and with wildcards, not fuzzily.
        "supportsFuzzyMatching": False,
        "supportsWildcard": True,
        "staticWado": False,
        "singlepart": "bulkdata,video",
        "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
        "omitQuotationForMultipartRequest": True,
    }
    configuration = json.dumps(source, indent=2)
    return f"""window.config = {{
  routerBasename: "{VIEWER_PATH}",
  extensions: [],
  modes: [],
  showStudyList: true,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  defaultDataSourceName: "ptxseg",
  dataSources: [{{
    namespace: "@ohif/extension-default.dataSourcesModule.dicomweb",
    sourceName: "ptxseg",
    configuration: Object.assign({configuration}, {{
      qidoRoot: window.location.origin + "{DICOMWEB_PATH}",
      wadoRoot: window.location.origin + "{DICOMWEB_PATH}",
      wadoUriRoot: window.location.origin + "{DICOMWEB_PATH}",
    }}),
  }}],
}};
"""
