"""SFT data and QLoRA training of the answer adapter, with its model card."""
