"""Qdrant: the vector store over qdrant-client (server, local mode), the edge engine, layout, stats."""
