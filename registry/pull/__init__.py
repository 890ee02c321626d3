"""Pulling a cohort from a FHIR server (REST search or Bulk Data) into the registry."""
