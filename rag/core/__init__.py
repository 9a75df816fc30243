"""Settings, domain types, the payload schema, retrieval modes, prompts and data files.

No torch or Qdrant import here: the app imports the core while a page draws.
"""
