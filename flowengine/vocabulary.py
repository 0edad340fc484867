"""The fixed words flowengine shows people — stage and outcome names, diagram and report
terms — in English, Norwegian (Bokmål) and Swedish. Workflow labels come from the YAML; these
are the words around them, kept in one place so diagrams, tables and reports agree.
"""

from __future__ import annotations

from flowengine.model import LANGUAGES

# One row per term, one column per language: a term cannot be missing in one language.
TERMS: dict[str, tuple[str, str, str]] = {
    "any": ("any open state", "enhver åpen tilstand", "varje öppet tillstånd"),
    "owner": ("owner", "ansvarlig", "ansvarig"),
    "outcome": ("outcome", "utfall", "utfall"),
    "version": ("version", "versjon", "version"),
    "legend": ("Legend", "Tegnforklaring", "Teckenförklaring"),
    "stages": ("stages", "faser", "faser"),
    "outcomes": ("final states (outcome)", "slutttilstander (utfall)", "sluttillstånd (utfall)"),
    "edges": ("transitions", "overganger", "övergångar"),
    "edge": ("transition", "overgang", "övergång"),
    "comment": ("comment required", "krever kommentar", "kräver kommentar"),
    "answers": ("answers the panel", "svarer panelet", "svarar panelen"),
    "initial": ("bold border: where proposals start", "tykk ramme: her starter forslagene",
                "tjock ram: här börjar förslagen"),
    "panel": ("user panel", "brukerpanel", "brukarpanel"),
    "council": ("user council", "brukerråd", "brukarråd"),
    "administration": ("administration", "administrasjon", "förvaltning"),
    "political": ("political decision", "politisk behandling", "politiskt beslut"),
    "implementation": ("implementation", "gjennomføring", "genomförande"),
    "evaluation": ("evaluation", "evaluering", "utvärdering"),
    "closed": ("closed", "avsluttet", "avslutad"),
    "implemented": ("implemented", "gjennomført", "genomförd"),
    "partially_implemented": ("partially implemented", "delvis gjennomført", "delvis genomförd"),
    "rejected": ("rejected", "avslått", "avslagen"),
    "withdrawn": ("withdrawn", "trukket", "återkallad"),
    "merged": ("merged", "slått sammen", "sammanslagen"),
    "parked": ("parked", "parkert", "parkerad"),
    "transferred": ("transferred", "overført", "överförd"),
    "year": ("year", "år", "år"),
    "years": ("years", "år", "år"),
    "month": ("month", "måned", "månad"),
    "months": ("months", "måneder", "månader"),
    "week": ("week", "uke", "vecka"),
    "weeks": ("weeks", "uker", "veckor"),
    "day": ("day", "dag", "dag"),
    "days": ("days", "dager", "dagar"),
    "hour": ("hour", "time", "timme"),
    "hours": ("hours", "timer", "timmar"),
    "minute": ("minute", "minutt", "minut"),
    "minutes": ("minutes", "minutter", "minuter"),
}

def term(key: str, language: str) -> str:
    """A fixed word in ``language``, falling back to English as workflow labels do."""
    texts = TERMS[key]
    return texts[LANGUAGES.index(language)] if language in LANGUAGES else texts[0]


def describe_duration(months: int, seconds: int, language: str) -> str:
    """"3 months", "3 måneder", "1 år 2 månader 10 dagar": a duration as people say it."""
    years, months = divmod(months, 12)
    weeks, rest = divmod(seconds, 7 * 86400)
    days, rest = divmod(rest, 86400)
    if days and weeks:  # "17 days" reads better than "2 weeks 3 days"
        days, weeks = days + 7 * weeks, 0
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(years, "year"), (months, "month"), (weeks, "week"), (days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(f"{n} {term(unit if n == 1 else unit + 's', language)}" for n, unit in parts if n)
