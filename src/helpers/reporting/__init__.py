"""Reporting: charts, formatted figures, rendered reports, the run index and the pipeline.

Everything a reader sees: the house chart style and every chart, number formats, the executive
summary built from a run's artefacts, notebook-to-HTML/PDF rendering, the browser check, the run
index, and the pipeline that executes the notebooks. May import every layer before it.
"""

import sys

# jsonschema (under papermill, nbformat and nbconvert) imports rfc3987_syntax where it is installed
# (jupyter-events' format extra brings it), which compiles 38 Lark grammars as it loads: ~2 CPU s at
# the start of every run, for "iri" format checks that no notebook schema uses. Taken as absent.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: absent
