"""Following a FHIR server's change feed (system `_history`, oldest first) durably: the
pure reading of pages (`position`) and the shared cursor in the service database
(`cursor`). The scoring worker and the alert detector both follow the feed this way."""
