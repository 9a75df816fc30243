"""Ingest: turn news sources into articles, chunk them and index them into Qdrant."""
