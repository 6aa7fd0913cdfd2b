"""`kpi-pipeline ask`: questions answered from the published `kpi` tables and their evidence, nothing else.

Two backends, chosen as extraction chooses (`KPI_LLM_BACKEND`, else anthropic when `ANTHROPIC_API_KEY` is
set): `offline` answers the documented question shapes deterministically (offline.py); `anthropic` lets
Claude query the warehouse through two checked read-only tools (claude.py, tools.py). Every number cites
its (metric, day) and a quote, and a question the data cannot answer gets "not in the data".
"""

from kpi_pipeline.ask.answer import NOT_IN_DATA, Answer, Citation
from kpi_pipeline.ask.run import ask_question

__all__ = ["NOT_IN_DATA", "Answer", "Citation", "ask_question"]
