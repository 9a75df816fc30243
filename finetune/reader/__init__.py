"""Training of the extractive reader (span head + LoRA on the E5 encoder)."""
