"""whyrec tools: the domain (ingest, store, ranking, causal, explanation)."""
