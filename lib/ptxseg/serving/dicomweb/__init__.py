"""PACS over DICOMweb: the client, the on-disk image cache, the studies the app serves from it, pre-screening.

Import the modules themselves (``ptxseg.serving.dicomweb.client``...): ``ptxseg serve`` checks the PACS with the
client alone, without torch.
"""
