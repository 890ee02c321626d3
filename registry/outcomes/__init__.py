"""The study's outcomes, one module per question, all pure over query results (STYLE 6.7)."""
