"""What every AutoRKE service shares: settings, the event envelope and catalogue, the
JetStream bus with its transactional outbox, database helpers, errors, telemetry, the
FastAPI app factory and the ``autorke`` command. Nothing service-specific lives here."""
