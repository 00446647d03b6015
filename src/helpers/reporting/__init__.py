"""Reporting: charts, formatted figures, rendered reports, the run index and the pipeline.

Everything a reader sees: the house chart style and every chart, number formats, the executive
summary built from a run's artefacts, notebook-to-HTML/PDF rendering, the browser check, the run
index, and the pipeline that executes the notebooks. May import every layer before it.
"""
