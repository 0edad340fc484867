"""The fixed words flowengine shows people — stage and outcome names, diagram and report
terms — in English, Norwegian (Bokmål) and Swedish. Workflow labels come from the YAML; these
are the words around them, kept in one place so diagrams, tables and reports agree.
"""

from __future__ import annotations

# The languages every label and term comes in; the schema's enum says the same (tests/test_schema.py).
LANGUAGES = ("en", "nb", "sv")

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
    # The stall diagram and the comparison diagram (flowengine.views.stall_diagram, comparison_diagram).
    "stalls_as_of": ("where proposals stall, as of", "hvor forslagene stopper opp, per",
                     "var förslagen fastnar, per"),
    "stages_as_of": ("where proposals stall, stage by stage, as of",
                     "hvor forslagene stopper opp, fase for fase, per", "var förslagen fastnar, fas för fas, per"),
    "proposals": ("proposals", "forslag", "förslag"),
    "now": ("now", "nå", "nu"),
    "median": ("median", "median", "median"),
    "waiting": ("waiting", "venter", "väntar"),
    "days_short": ("d", "d", "d"),
    "over_deadline": ("over deadline", "over fristen", "över tidsfristen"),
    "stalled": ("stalled", "stoppet opp", "fastnat"),
    "no_deadline": ("no deadline", "ingen frist", "ingen tidsfrist"),
    "ended_here": ("ended here", "endte her", "slutade här"),
    "not_declared": ("not in the workflow", "ikke i arbeidsflyten", "inte i arbetsflödet"),
    "funnel": ("funnel", "trakt", "tratt"),
    "absent_stage": ("stage not in this workflow", "fasen finnes ikke i denne arbeidsflyten",
                     "fasen finns inte i detta arbetsflöde"),
    "fill_states": ("fill: median days spent in the state by proposals that left it (where none has left "
                    "yet: by those waiting there), relative to the slowest state",
                    "farge: median dager i tilstanden for forslag som har forlatt den (der ingen har det "
                    "ennå: for dem som venter der), i forhold til den tregeste tilstanden",
                    "färg: median dagar i tillståndet för förslag som har lämnat det (där inget har det "
                    "ännu: för dem som väntar där), i förhållande till det långsammaste tillståndet"),
    "fill_stages": ("fill: median days in the stage of proposals that left it (else of those waiting), "
                    "relative to the slowest cell",
                    "farge: median dager i fasen for forslag som har forlatt den (ellers for dem som venter), "
                    "i forhold til den tregeste cellen",
                    "färg: median dagar i fasen för förslag som har lämnat den (annars för dem som väntar), "
                    "i förhållande till den långsammaste cellen"),
    "severity_0": ("nobody has stayed here", "ingen har vært her", "ingen har varit här"),
    "severity_1": ("up to ¼", "inntil ¼", "upp till ¼"),
    "severity_2": ("¼ to ½", "¼ til ½", "¼ till ½"),
    "severity_3": ("½ to ¾", "½ til ¾", "½ till ¾"),
    "severity_4": ("over ¾: the slowest", "over ¾: de tregeste", "över ¾: de långsammaste"),
    "hidden": ("too few to show", "for få til å vises", "för få för att visas"),
    "flag_border": ("red border: proposals over the deadline or stalled now",
                    "rød ramme: forslag over fristen eller stoppet opp nå",
                    "röd ram: förslag över tidsfristen eller som fastnat nu"),
    "stalled_means": ("stalled: over the deadline, or over the p90 of finished stays where there is none",
                      "stoppet opp: over fristen, eller over p90 for avsluttede opphold der det ikke er frist",
                      "fastnat: över tidsfristen, eller över p90 för avslutade vistelser där ingen finns"),
    "edge_taken": ("width: how often taken; label: times taken · median days in the state before",
                   "tykkelse: hvor ofte brukt; tekst: antall ganger · median dager i tilstanden før",
                   "tjocklek: hur ofta använd; text: antal gånger · median dagar i tillståndet före"),
    "edge_unused": ("dashed grey: in the workflow, never taken", "stiplet grå: i arbeidsflyten, aldri brukt",
                    "streckad grå: i arbetsflödet, aldrig använd"),
    "edge_jump": ("dotted red: taken, but not in the workflow", "prikket rød: brukt, men ikke i arbeidsflyten",
                  "prickad röd: använd, men inte i arbetsflödet"),
    "cell_lines": ("median and p90: finished stays in the stage; now: proposals in it, waiting: their median wait",
                   "median og p90: avsluttede opphold i fasen; nå: forslag i den, venter: deres median ventetid",
                   "median och p90: avslutade vistelser i fasen; nu: förslag i den, väntar: deras median väntetid"),
    "funnel_means": ("funnel: proposals, and how many ended implemented (share)",
                     "trakt: forslag, og hvor mange som endte gjennomført (andel)",
                     "tratt: förslag, och hur många som slutade genomförda (andel)"),
    "privacy_counts": ("counts below {n} are shown as <{n}; figures from fewer than {n} as a dash",
                       "tall under {n} vises som <{n}; tall fra færre enn {n} som strek",
                       "antal under {n} visas som <{n}; värden från färre än {n} som streck"),
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
