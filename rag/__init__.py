"""heise-rag: grounded German question answering over heise online tech news."""
