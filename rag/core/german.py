"""German wording of the library errors users see: pydantic's validation errors and OS errors.

Why: ingest skip reasons, the command line's option errors (typer validates option values with
pydantic) and file errors quote these messages to German users, but pydantic and the C library
word them in English. Both carry a stable code (pydantic's error ``type`` with its ``ctx``, the
``errno``), so the German text is chosen by code, never by parsing the English one. A code missing
here is named instead of quoting the English text.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# pydantic error type -> German template, filled from the error's ``ctx``.
_VALIDATION: dict[str, str] = {
    "missing": "fehlt",
    "extra_forbidden": "ist nicht vorgesehen",
    "string_type": "muss Text sein",
    "string_too_short": "muss mindestens {min_length} Zeichen haben",
    "string_too_long": "darf höchstens {max_length} Zeichen haben",
    "string_pattern_mismatch": "hat nicht die Form {pattern}",
    "string_unicode": "ist kein gültiger Unicode-Text",
    "int_type": "muss eine ganze Zahl sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "int_from_float": "muss eine ganze Zahl sein, keine Kommazahl",
    "float_type": "muss eine Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "finite_number": "muss eine endliche Zahl sein",
    "bool_type": "muss ein Wahrheitswert sein",
    "bool_parsing": "muss ein Wahrheitswert sein (true/false, ja/nein, 1/0)",
    "greater_than": "muss größer als {gt} sein",
    "greater_than_equal": "muss mindestens {ge} sein",
    "less_than": "muss kleiner als {lt} sein",
    "less_than_equal": "darf höchstens {le} sein",
    "multiple_of": "muss ein Vielfaches von {multiple_of} sein",
    "too_short": "braucht mindestens {min_length} Einträge",
    "too_long": "darf höchstens {max_length} Einträge haben",
    "list_type": "muss eine Liste sein",
    "tuple_type": "muss eine Liste sein",
    "dict_type": "muss ein Objekt sein",
    "model_type": "muss ein Objekt sein",
    "model_attributes_type": "muss ein Objekt sein",
    "literal_error": "muss einer der Werte {expected} sein",
    "enum": "muss einer der Werte {expected} sein",
    "date_type": "muss ein Datum sein",
    "date_parsing": "ist kein Datum (JJJJ-MM-TT)",
    "date_from_datetime_parsing": "ist kein Datum (JJJJ-MM-TT)",
    "datetime_type": "muss ein Zeitpunkt sein",
    "datetime_parsing": "ist kein Zeitpunkt (ISO 8601, z. B. 2022-01-02T10:00:00+01:00)",
    "datetime_from_date_parsing": "ist kein Zeitpunkt (ISO 8601, z. B. 2022-01-02T10:00:00+01:00)",
    "timezone_aware": "braucht eine Zeitzone",
    "timezone_naive": "darf keine Zeitzone haben",
    "url_type": "muss eine URL sein",
    "url_parsing": "ist keine gültige URL",
    "url_scheme": "muss mit {expected_schemes} beginnen",
    "json_invalid": "kein gültiges JSON (`{error}`)",
    "json_type": "muss JSON-Text sein",
    "path_type": "muss ein Pfad sein",
    "uuid_parsing": "ist keine gültige UUID",
}

# errno -> German, for OS errors whose message (``strerror``) comes from the C library in English.
_OS_ERRORS: dict[int, str] = {
    errno.ENOENT: "Datei oder Ordner gibt es nicht",
    errno.EACCES: "keine Berechtigung",
    errno.EPERM: "nicht erlaubt",
    errno.EISDIR: "ist ein Ordner",
    errno.ENOTDIR: "ist kein Ordner",
    errno.EEXIST: "gibt es schon",
    errno.ENOSPC: "kein Platz mehr auf dem Datenträger",
    errno.EROFS: "Dateisystem nur lesbar",
    errno.ENAMETOOLONG: "Name zu lang",
    errno.ECONNREFUSED: "Verbindung abgelehnt",
    errno.ETIMEDOUT: "Zeitüberschreitung",
}


def validation_message(error: ErrorDetails | Mapping[str, Any]) -> str:
    """One pydantic error in German, without its field.

    Our own validators raise ``ValueError`` with German text; that text is kept. Other types
    without a German template are named by their code.
    """
    ctx = error.get("ctx") or {}
    if error["type"] in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    template = _VALIDATION.get(error["type"])
    if template is None:
        return f"ungültiger Wert (`{error['type']}`)"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):  # a pydantic version with other ctx keys: the template's gist
        return template.split(" {", 1)[0]


def validation_reason(err: ValidationError) -> str:
    """All of pydantic's errors in one German line, each prefixed with the field it concerns."""
    parts = []
    for error in err.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = validation_message(error)
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def os_error_reason(err: OSError) -> str:
    """Why an OS call failed, in German when the errno is known, else the system's own text."""
    if err.errno in _OS_ERRORS:
        return _OS_ERRORS[err.errno]
    return err.strerror or str(err)
