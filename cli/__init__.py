"""The `heise-rag` command line: the top layer; a module per command group, each command thin."""
