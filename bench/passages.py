"""How often the answer survives the shortening of a source passage (rag/retrieval/passages.py).

For every XQuAD dev question: is its gold answer span still inside its paragraph after
`focus_passage` (the question's sentences within the budget) and after a plain cut to the same
number of characters? Deterministic and cheap; it sets `HEISE_RAG_SOURCE_CHARS` against the time
to the first token (prompt length).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.core.datafiles import XQUAD_FILE
from rag.core.settings import get_settings
from rag.retrieval.passages import focus_passage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budgets", default="300,450,600,800", help="comma-separated character budgets")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    path = get_settings().resolved_data_dir / XQUAD_FILE
    items = [
        (paragraph["context"], qa["question"], qa["answers"][0]["text"])
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        focused = sum(answer in focus_passage(context, q, budget) for context, q, answer in items) / len(
            items
        )
        cut = sum(answer in context[:budget] for context, _, answer in items) / len(items)
        rows.append({"chars": budget, "answer_kept_focused": focused, "answer_kept_prefix": cut})
        print(
            f"{budget:5d} chars: answer kept {focused:.3f} (question's sentences) vs {cut:.3f} (first chars)"
        )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"questions": len(items), "budgets": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
