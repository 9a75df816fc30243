"""Training code: the headline-engagement classifier (and later the reranker and answer adapter)."""
