"""The module's MRML work as plain functions: they need Slicer's MRML and module logics, never Qt or the GUI.

So they run in a full Slicer and in PyPI's ``slicer-core`` alike (tests/slicer_plugin/slicer_core/). Each
function takes the scene or the nodes it works on; none reads ``slicer.mrmlScene`` or ``slicer.app``.
"""
