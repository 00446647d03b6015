"""Ingest: from a raw export to the canonical response table, personal data removed.

Readers (Qualtrics, SurveyMonkey, SPSS, CSV/TSV, XLSX, parquet), the survey schema that maps an
export's columns to canonical fields, schema inference for new exports, cleaning and quality
flags, and personal-data treatment (hash keys, masking). Modules here may import only the core
(paths, errors, config, catalog); nothing here computes a statistic or draws a chart.
"""
