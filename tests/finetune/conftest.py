"""Fixtures of the fine-tuning tests: small 10kGNAD and headline files for the SFT data builders."""

from __future__ import annotations

from pathlib import Path

import pytest

GNAD_ROWS = [
    "Wirtschaft;'Der Konzern baut Stellen ab. Wien - Der Konzern hat im Jahr 2015 rund 1.200 Mitarbeiter "
    "beschäftigt. Der Umsatz stieg um 12 Prozent. Das ist ein gutes Ergebnis für alle, sagte Anna Berger.'",
    "Sport;'Rapid gewinnt das Derby. Wien - Rapid hat seit 2010 kein Derby verloren. Die Fans feierten "
    "lange. Das Stadion war mit 25.000 Menschen ausverkauft.'",
    "Web;'Ein neues Handy kommt. Berlin - Das Gerät soll ab 2016 erhältlich sein. Es kostet 499 Euro. "
    "Der Akku hält zwei Tage.'",
    "Kultur;'Ein Film läuft an. Wien - Der Film wurde in Wien gedreht. Die Kritiken sind gemischt. "
    "Der Regisseur arbeitete drei Jahre daran.'",
]
HEADLINES = [
    ("6315231", "Apple wünscht sich mehr Bluetooth-Bandbreite", "2022-01-03 13:38:00"),
    ("6266836", "Bericht: Höchststand bei Anschlägen auf Geldautomaten", "2022-12-03 17:17:00"),
    ("6287308", "Werkstattberichte: Neues aus den Fablabs und der Makerszene", "2022-01-18 10:07:00"),
    ("6233916", "Zentrum für KI in der Medizin soll für Gesundheitsversorgung sorgen", "2023-11-16 09:20:00"),
    ("6300001", "Telekom erweitert Glasfasernetz in Bayern", "2023-05-02 08:00:00"),
]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    gnad = tmp_path / "test.csv"
    gnad.write_text("\n".join(GNAD_ROWS) + "\n", encoding="utf-8")
    heads = tmp_path / "headlines.csv"
    rows = [f"{i},{title},10.0,{time}.000000,bad" for i, title, time in HEADLINES]
    heads.write_text("id,headline,comments,time,quality\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return gnad, heads
