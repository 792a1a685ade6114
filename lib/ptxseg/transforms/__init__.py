"""Steps 2 and 4 of the data path, on arrays: fit to the model's square and undo it, normalise, and the
post-processing (threshold, minimum area, triplet) with the image-level score. No network here: the model's
checkpoint record stores these steps' settings, so they sit below the model.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "DEFAULT_IMAGE_SIZE": "fit",
    "FitInfo": "fit",
    "fit_to_square": "fit",
    "fit_mask": "fit",
    "undo_fit": "fit",
    "undo_fit_mask": "fit",
    "normalize": "intensity",
    "ThresholdPostprocess": "postprocess",
    "TripletPostprocess": "postprocess",
    "postprocess_from_dict": "postprocess",
    "pneumothorax_score": "postprocess",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
