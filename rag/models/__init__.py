"""Model registry, offline provisioning and format conversion."""
