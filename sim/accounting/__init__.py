"""From the engine's records to monthly tables, the typed run summary and replications."""
