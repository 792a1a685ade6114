"""ptxseg: pneumothorax segmentation on chest X-rays (EfficientNet-B4 U-Net), for MONAI Label and 3D Slicer."""

__version__ = "0.1.0"
__all__ = ["__version__"]
