"""heise-rag: grounded German question answering over heise online tech news."""

import logging
import os

# bitsandbytes (imported through peft by sentence-transformers) warns on every start that it cannot
# fetch an optional CPU kernel from the hub; this machine is offline by design and falls back fine.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
# Loading a local model folder takes about a second; transformers' per-load progress bars would
# clutter the CLI's own output. Set HF_HUB_DISABLE_PROGRESS_BARS=0 to see them again.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
