"""``lakeforge report``: one self-contained HTML page (and PNG figures) about a lakehouse and a pipeline run.

Pure: the data model (:mod:`curation.report.model`), which signals and bins (:mod:`~curation.report.signals`), the
funnel (:mod:`~curation.report.funnel`), the training log (:mod:`~curation.report.training`), the figures
(:mod:`~curation.report.figures`, matplotlib Agg) and the page (:mod:`~curation.report.render`). The Spark adapter
that fills :class:`ReportData` from a lakehouse is :func:`curation.spark.report.collect`.
"""

from curation.report.model import SECTIONS, ReportData
from curation.report.render import build_figures, render_html, write_report

__all__ = ["SECTIONS", "ReportData", "build_figures", "render_html", "write_report"]
