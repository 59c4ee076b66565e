"""Datasets as arrays and the course's batch sampler."""

from jaxdl.data.idx import DataFileError
from jaxdl.data.mnist import DATA_DIR_ENV, DataNotFoundError, Split, load, load_idx_folder

__all__ = ["DATA_DIR_ENV", "DataFileError", "DataNotFoundError", "Split", "load", "load_idx_folder"]
