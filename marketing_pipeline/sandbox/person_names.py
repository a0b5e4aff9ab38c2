"""Names for the sandbox dataset: people from many countries (accents included), company words, and how
those people would spell their names in an email address. The pipeline itself never alters a name: it
syncs names verbatim; only the sandbox invents addresses."""

import unicodedata

# Letters people write out as two ASCII letters (Müller -> mueller) or that Unicode cannot take apart
# (Łukasz -> lukasz, Søren -> soren); every other accented letter just loses its accent (Chloé -> chloe).
SPELLED_OUT = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d"}


def address_spelling(text: str) -> str:
    """`text` as the local part of a plausible address: lower case ASCII letters, digits and dots."""
    spelled = "".join(SPELLED_OUT.get(ch, ch) for ch in text.lower())
    plain = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum() or ch == ".")


FIRST = [
    "Alice",
    "Ben",
    "Chloé",
    "Dmitri",
    "Eve",
    "Farah",
    "George",
    "Hana",
    "Ivan",
    "José",
    "Kate",
    "Liam",
    "Maja",
    "Noah",
    "Olivia",
    "Pádraig",
    "Quinn",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yusuf",
    "Zoë",
    "Łukasz",
    "Ana",
    "Björn",
    "Ciarán",
]
LAST = [
    "Smith",
    "Jones",
    "Müller",
    "García",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Ivanova",
    "Tanaka",
    "Hughes",
    "Patel",
    "Walsh",
    "Novák",
    "Fernández",
    "Schröder",
    "Andersen",
    "Byrne",
    "Kelly",
]
WORDS = [
    "Acme",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Pied Piper",
    "Aperture",
    "Oscorp",
]
