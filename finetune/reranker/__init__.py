"""Training data, training and model card of the German cross-encoder reranker."""
