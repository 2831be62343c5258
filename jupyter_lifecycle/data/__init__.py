"""Datasets for tracking, as ``mlflow.data``: ``from_pandas``, ``from_numpy``, their sources and digests.

Pure Python over pandas and numpy (imported on first use); no IPython. Log a
dataset with ``lc.log_input(dataset, context="training")``.
"""

from .datasets import Dataset, NumpyDataset, PandasDataset, from_numpy, from_pandas
from .sources import DatasetSource

__all__ = ["Dataset", "DatasetSource", "NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]
