"""Federated fine-tuning across hospitals on NVIDIA FLARE (the optional ``federated`` extra).

``options`` (the job's and each round's options, declared once), ``site_config`` (where a site's data and model
live: the site's own file), ``site_training`` (the client algorithm over ptxseg's trainer and the site's
champion/challenger decision), ``weights`` (arrays to checkpoints). FLARE's side: ``client`` (the Client API loop a
site runs), ``controller`` (FedAvg tolerant of sites dropping out, then the global model offered to each site),
``persistor`` (the global model as a ptxseg checkpoint), ``privacy`` (the site output filters), ``job`` (the job
folder) and ``simulate`` (FLARE's simulator). Only the FLARE modules import ``nvflare``.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "JobOptions": "options",
    "RoundOptions": "options",
    "SiteConfig": "site_config",
    "read_site_config": "site_config",
    "SiteTrainer": "site_training",
    "write_job": "job",
    "simulate": "simulate",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
