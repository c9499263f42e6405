"""Ingestion domain: bronze + quarantine tables per topic, fed by sensors, guarded by checks."""
