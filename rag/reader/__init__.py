"""The extractive reader: a span head on the E5 encoder that finds the answer inside a source."""
