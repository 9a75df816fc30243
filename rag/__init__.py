"""heise-rag: grounded German question answering over heise online tech news."""

import logging

# bitsandbytes (imported through peft by sentence-transformers) warns on every start that it cannot
# fetch an optional CPU kernel from the hub; this machine is offline by design and falls back fine.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
