"""The radiologist's review in a browser: OHIF's prebuilt viewer served by ptxseg (same origin), its configuration,
the worklist page and the store of the radiologists' verdicts."""
