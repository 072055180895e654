"""PostgreSQL storage (psycopg 3): migrations, the event log, alerts and their audit chain, snapshots."""
