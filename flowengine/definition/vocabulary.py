"""The fixed words flowengine shows people — stage and outcome names, diagram and report
terms — by a stable key. Workflow labels come from the YAML; these are the words around them,
kept in one place so diagrams, tables and reports agree. They are written in English here and
translated through the catalogues of :mod:`flowengine.i18n`, like every other message.
"""

from __future__ import annotations

from flowengine.i18n import LANGUAGES, N_, marked, tn

__all__ = ["LANGUAGES", "TERMS", "describe_duration", "term"]

# key → the English text (its translations are in flowengine/i18n/*.po)
TERMS: dict[str, str] = {
    'any': N_('any open state'),
    'owner': N_('owner'),
    'outcome': N_('outcome'),
    'version': N_('version'),
    'legend': N_('Legend'),
    'stages': N_('stages'),
    'outcomes': N_('final states (outcome)'),
    'edges': N_('transitions'),
    'edge': N_('transition'),
    'comment': N_('comment required'),
    'answers': N_('answers the panel'),
    'initial': N_('bold border: where proposals start'),
    'panel': N_('user panel'),
    'council': N_('user council'),
    'administration': N_('administration'),
    'political': N_('political decision'),
    'implementation': N_('implementation'),
    'evaluation': N_('evaluation'),
    'closed': N_('closed'),
    'implemented': N_('implemented'),
    'partially_implemented': N_('partially implemented'),
    'rejected': N_('rejected'),
    'withdrawn': N_('withdrawn'),
    'merged': N_('merged'),
    'parked': N_('parked'),
    'transferred': N_('transferred'),
    'stalls_as_of': N_('where proposals stall, as of'),
    'stages_as_of': N_('where proposals stall, stage by stage, as of'),
    'proposals': N_('proposals'),
    'now': N_('now'),
    'median': N_('median'),
    'waiting': N_('waiting'),
    'days_short': N_('d'),
    'over_deadline': N_('over deadline'),
    'stalled': N_('stalled'),
    'no_deadline': N_('no deadline'),
    'ended_here': N_('ended here'),
    'not_declared': N_('not in the workflow'),
    'funnel': N_('funnel'),
    'absent_stage': N_('stage not in this workflow'),
    'fill_states': N_('fill: median days spent in the state by proposals that left it (where none has left '
                      'yet: by those waiting there), relative to the slowest state'),
    'fill_stages': N_('fill: median days in the stage of proposals that left it (else of those waiting), '
                      'relative to the slowest cell'),
    'severity_0': N_('nobody has stayed here'),
    'severity_1': N_('up to ¼'),
    'severity_2': N_('¼ to ½'),
    'severity_3': N_('½ to ¾'),
    'severity_4': N_('over ¾: the slowest'),
    'hidden': N_('too few to show'),
    'flag_border': N_('red border: proposals over the deadline or stalled now'),
    'stalled_means': N_('stalled: over the deadline, or over the p90 of finished stays where there is none'),
    'edge_taken': N_('width: how often taken; label: times taken · median days in the state before'),
    'edge_unused': N_('dashed grey: in the workflow, never taken'),
    'edge_jump': N_('dotted red: taken, but not in the workflow'),
    'cell_lines': N_('median and p90: finished stays in the stage; now: proposals in it, waiting: their median wait'),
    'funnel_means': N_('funnel: proposals, and how many ended implemented (share)'),
    'privacy_counts': N_('counts below {n} are shown as <{n}; figures from fewer than {n} as a dash'),
}


def term(key: str, language: str) -> str:
    """A fixed word in ``language``, falling back to English as workflow labels do."""
    return marked(TERMS[key], language=language)


def _unit(unit: str, n: int, language: str) -> str:
    if unit == "year":
        return tn("{n} year", "{n} years", n, language=language)
    if unit == "month":
        return tn("{n} month", "{n} months", n, language=language)
    if unit == "week":
        return tn("{n} week", "{n} weeks", n, language=language)
    if unit == "day":
        return tn("{n} day", "{n} days", n, language=language)
    if unit == "hour":
        return tn("{n} hour", "{n} hours", n, language=language)
    return tn("{n} minute", "{n} minutes", n, language=language)


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
    return " ".join(_unit(unit, n, language) for n, unit in parts if n)
