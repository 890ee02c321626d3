"""FHIR in: readers, HTTP clients, datatype helpers, terminology and mappers (no database)."""
