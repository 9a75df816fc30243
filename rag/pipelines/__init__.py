"""The ask pipeline, follow-up condensing, citations, feedback, and the composition root."""
