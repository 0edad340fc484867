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
    },
}



def term(key: str, language: str) -> str:
    """A fixed word in ``language``, falling back to English as workflow labels do."""
    return TERMS.get(language, {}).get(key) or TERMS["en"][key]
