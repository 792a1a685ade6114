"""The sample app's task config (the MONAI Label radiology app's layout)."""
