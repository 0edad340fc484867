"""The fixed words flowengine shows people — stage and outcome names, diagram and report
terms — in English, Norwegian (Bokmål) and Swedish. Workflow labels come from the YAML; these
are the words around them, kept in one place so diagrams, tables and reports agree.
"""

from __future__ import annotations

TERMS: dict[str, dict[str, str]] = {
    "en": {
        "any": "any open state", "owner": "owner", "outcome": "outcome", "version": "version",
        "legend": "Legend", "stages": "stages", "outcomes": "final states (outcome)",
        "edges": "transitions", "edge": "transition", "comment": "comment required",
        "answers": "answers the panel",
        "initial": "bold border: where proposals start",
        "panel": "user panel", "council": "user council", "administration": "administration",
        "political": "political decision", "implementation": "implementation",
        "evaluation": "evaluation", "closed": "closed",
        "implemented": "implemented", "partially_implemented": "partially implemented",
        "rejected": "rejected", "withdrawn": "withdrawn", "merged": "merged", "parked": "parked",
        "transferred": "transferred",
        "year": "year", "years": "years", "month": "month", "months": "months", "week": "week",
        "weeks": "weeks", "day": "day", "days": "days", "hour": "hour", "hours": "hours",
        "minute": "minute", "minutes": "minutes",
    },
    "nb": {
        "any": "enhver åpen tilstand", "owner": "ansvarlig", "outcome": "utfall",
        "version": "versjon", "legend": "Tegnforklaring", "stages": "faser",
        "outcomes": "slutttilstander (utfall)", "edges": "overganger", "edge": "overgang",
        "comment": "krever kommentar", "answers": "svarer panelet",
        "initial": "tykk ramme: her starter forslagene",
        "panel": "brukerpanel", "council": "brukerråd", "administration": "administrasjon",
        "political": "politisk behandling", "implementation": "gjennomføring",
        "evaluation": "evaluering", "closed": "avsluttet",
        "implemented": "gjennomført", "partially_implemented": "delvis gjennomført",
        "rejected": "avslått", "withdrawn": "trukket", "merged": "slått sammen",
        "parked": "parkert", "transferred": "overført",
        "year": "år", "years": "år", "month": "måned", "months": "måneder", "week": "uke",
        "weeks": "uker", "day": "dag", "days": "dager", "hour": "time", "hours": "timer",
        "minute": "minutt", "minutes": "minutter",
    },
    "sv": {
        "any": "varje öppet tillstånd", "owner": "ansvarig", "outcome": "utfall",
        "version": "version", "legend": "Teckenförklaring", "stages": "faser",
        "outcomes": "sluttillstånd (utfall)", "edges": "övergångar", "edge": "övergång",
        "comment": "kräver kommentar", "answers": "svarar panelen",
        "initial": "tjock ram: här börjar förslagen",
        "panel": "brukarpanel", "council": "brukarråd", "administration": "förvaltning",
        "political": "politiskt beslut", "implementation": "genomförande",
        "evaluation": "utvärdering", "closed": "avslutad",
        "implemented": "genomförd", "partially_implemented": "delvis genomförd",
        "rejected": "avslagen", "withdrawn": "återkallad", "merged": "sammanslagen",
        "parked": "parkerad", "transferred": "överförd",
        "year": "år", "years": "år", "month": "månad", "months": "månader", "week": "vecka",
        "weeks": "veckor", "day": "dag", "days": "dagar", "hour": "timme", "hours": "timmar",
        "minute": "minut", "minutes": "minuter",
    },
}



def term(key: str, language: str) -> str:
    """A fixed word in ``language``, falling back to English as workflow labels do."""
    return TERMS.get(language, {}).get(key) or TERMS["en"][key]


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
