"""Training, baselines, report and model card of the headline-engagement classifier."""
