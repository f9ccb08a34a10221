"""Care-manager alerts: which changes of the FHIR record are alerts (`rules`), who gets
them (`routing`), the alert as a FHIR Task and each delivery as a Communication
(`resources`), the detector following the change feed (`detector`), and the deliveries
through the outbox (`deliveries`)."""
