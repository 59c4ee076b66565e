"""Experiment outputs: results.json, markdown tables and figures (all written atomically), progress lines."""

from jaxdl.report.progress import Progress
from jaxdl.report.results import environment, write_json, write_results
from jaxdl.report.tables import markdown_table

__all__ = ["Progress", "environment", "markdown_table", "write_json", "write_results"]
