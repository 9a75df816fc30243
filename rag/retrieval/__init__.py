"""Hybrid search (dense E5 + sparse BM25), passages and the cross-encoder reranker."""
