"""A recogniser's words as a readable text: Chinese models put a space between every word (我 家 门口 的 路灯),
which the text drops between two Chinese characters and keeps elsewhere (Korean, Latin words, figures)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def joined(pieces: Iterable[str]) -> str:
    text = " ".join(piece.strip() for piece in pieces if piece.strip())
    return _SPACE_BETWEEN_HAN.sub("", text)
