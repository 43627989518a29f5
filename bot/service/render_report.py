"""Report outputs: a terminal table, CSV, JSON, a self-contained HTML page and
a trend chart (PNG, matplotlib with the Agg backend: no display, no network).

Every renderer takes a `Report` that has already passed disclosure control and
shows only what it holds: a suppressed row has no n, mean or distribution to
show. The wording comes from `bot/locales` (staff see English by default).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.core.disclosure import FEWER
from bot.core.promises import CHANGES, RECORDS
from bot.core.texts import Texts
from bot.service.reports import DIMENSIONS, Report, Row

CODES = ("1", "2", "3", "4", "5", "yes", "no", "unsure", *CHANGES)
CHARTED = ("honesty", "clarity", "overall")


class Words:
    """The report's wording in one language."""

    def __init__(self, texts: Texts, locale: str, k: int) -> None:
        self.texts, self.locale, self.k = texts, locale, k

    def __call__(self, key: str, **values: object) -> str:
        return self.texts.get(self.locale, f"report_{key}", **values)

    def dimension(self, name: str) -> str:
        return self("dim_" + name) if name in DIMENSIONS else name

    def code(self, code: str) -> str:
        return self("code_" + code) if code in ("yes", "no", "unsure", *CHANGES) else code

    def measure(self, row: Row) -> str:
        if row.question is None:
            return self.dimension(row.dimension)
        if row.question_set is None and row.question in RECORDS:
            return self("record_" + row.question)
        text = row.text or row.question
        return f"{text} ({row.question_set} v{row.version})"

    def families(self, row: Row) -> str:
        if row.suppressed:
            return self("fewer", k=self.k) if row.reason == FEWER else "—"
        return str(row.n) if row.n else self("no_answers")

    def mean(self, row: Row) -> str:
        return "" if row.mean is None else f"{row.mean:.1f}"

    def distribution(self, row: Row) -> str:
        if not row.distribution:
            return ""
        return "  ".join(f"{self.code(c)}: {v:.1f}" for c, v in row.distribution.items())

    def reason(self, row: Row) -> str:
        if not row.suppressed:
            return ""
        return self("reason_fewer", k=self.k) if row.reason == FEWER else self("reason_reveal")

    def title(self, report: Report) -> str:
        scope = report.scope.label if report.scope.team else self("scope_org")
        return self("title", scope=scope, period=report.period.label)


def headline(report: Report, w: Words) -> str:
    n = report.families()
    return w("based_on", n=n) if n is not None else w("none_published")


def _where(row: Row) -> str:
    return row.worker or row.team or ""


# -- table --------------------------------------------------------------------------


def table(report: Report, w: Words) -> str:
    lines = [w.title(report), headline(report, w), ""]
    for section, rows in sections(report):
        lines.append(f"== {section}")
        lines.extend(_grid(rows, w))
        lines.append("")
    lines.append(f"== {w('changes')}")
    lines.extend(change_lines(report))
    if not report.changes:
        lines.append(w("no_changes"))
    lines.append("")
    lines.extend(notes(report, w))
    lines.append(w("generated", date=f"{report.generated_at:%Y-%m-%d %H:%M} UTC"))
    return "\n".join(lines) + "\n"


def notes(report: Report, w: Words) -> list[str]:
    """The explanations under a report: how to read scores, and how to read
    the recorded figures when the report holds any."""
    out = [w("explain", k=report.k)]
    if any(r.kind == "record" for r in report.rows):
        out.append(w("records_explain"))
    return out


def change_lines(report: Report) -> list[str]:
    """One line per "you said, we did" message of the period."""
    return [f"{c.date} · {c.team}: {c.text}" for c in report.changes]


def sections(report: Report) -> list[tuple[str, list[Row]]]:
    out: list[tuple[str, list[Row]]] = []
    for key, label in (("summary", "summary"), ("breakdown", "breakdown"), ("trend", "trend")):
        rows = [r for r in report.rows if r.section == key]
        if key == "trend":
            rows = [r for r in rows if r.question is None]
        if rows:
            out.append((label, rows))
    return out


def _grid(rows: Sequence[Row], w: Words) -> list[str]:
    head = [w("col_period"), w("col_team"), w("col_measure"), w("col_families"), w("col_mean")]
    head.append(w("col_answers"))
    body = [
        [r.period, _where(r), w.measure(r), w.families(r), w.mean(r), w.distribution(r)]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    widths = [min(x, 60) for x in widths]
    out = []
    for cells in [head, *body]:
        parts = [c[:60].ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        out.append("  ".join([*parts, cells[-1]]).rstrip())
    notes = sorted({w.reason(r) for r in rows if r.suppressed})
    return out + [f"  {n}" for n in notes]


# -- CSV and JSON ---------------------------------------------------------------------


def as_csv(report: Report) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(
        [
            "period",
            "section",
            "team",
            "worker",
            "dimension",
            "question_set",
            "version",
            "question",
            "n",
            "mean",
            *(f"pct_{c}" for c in CODES),
            "suppressed",
            "reason",
            "text",
        ]
    )
    blank = [""] * len(CODES)
    for r in report.rows:
        dist = r.distribution or {}
        out.writerow(
            [
                r.period,
                r.section,
                r.team or "",
                r.worker or "",
                r.dimension,
                r.question_set or "",
                "" if r.version is None else r.version,
                r.question or "",
                "" if r.n is None else r.n,
                "" if r.mean is None else f"{r.mean:.1f}",
                *("" if c not in dist else f"{dist[c]:.1f}" for c in CODES),
                "yes" if r.suppressed else "no",
                r.reason or "",
                "",
            ]
        )
    for c in report.changes:
        head = [report.period.label, "you_said", c.team, "", "you_said", "", "", "", "", ""]
        out.writerow([*head, *blank, "no", "", f"{c.date} {c.text}"])
    return buf.getvalue()


def as_json(report: Report) -> str:
    last_day = report.period.end - timedelta(days=1)
    payload: dict[str, Any] = {
        "period": report.period.label,
        "from": report.period.start.date().isoformat(),
        "to": last_day.date().isoformat(),
        "k": report.k,
        "generated_at": report.generated_at.isoformat(),
        "scope": {"team": report.scope.team, "worker": report.scope.worker},
        "by": report.by.value if report.by else None,
        "rows": [r.as_json() for r in report.rows],
        "you_said": [c.as_json() for c in report.changes],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


# -- chart and HTML ---------------------------------------------------------------------


def trend_chart(report: Report, w: Words) -> bytes:
    """A PNG of the average per dimension over the trend months; a hidden
    month is a gap in the line, never a guess."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = list(report.trend_periods)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    try:
        for dim in CHARTED:
            by_month = {
                r.period: r.mean
                for r in report.rows
                if r.section == "trend" and r.question is None and r.dimension == dim
            }
            values = [by_month.get(m) for m in labels]
            ys = [float("nan") if v is None else v for v in values]
            ax.plot(labels, ys, marker="o", label=w.dimension(dim))
        ax.set_ylim(1, 5)
        ax.set_yticks([1, 2, 3, 4, 5])
        ax.set_title(w("chart_title"))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left", fontsize="medium")
        ax.tick_params(axis="both", labelsize="medium")
        ax.tick_params(axis="x", labelrotation=30)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:60rem;padding:1rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.4rem;margin:.2rem 0 .5rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.lead{font-size:1.1rem;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}
.card{border:1px solid #ccc;border-radius:.5rem;padding:.6rem}
.card .big{font-size:1.6rem;font-weight:700}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
.hidden{color:#555;font-style:italic}.d{white-space:nowrap;display:inline-block;margin-right:.5rem}
img{max-width:100%;height:auto}
.note{font-size:.85rem;color:#444}
@media print{body{max-width:none}.scroll{overflow:visible}}
"""


def as_html(report: Report, w: Words) -> str:
    e = html.escape
    chart = base64.b64encode(trend_chart(report, w)).decode()
    parts = [
        "<!doctype html>",
        f'<html lang="{e(w.locale)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(w.title(report))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(w.title(report))}</h1>",
        f'<p class="lead" id="headline">{e(headline(report, w))}</p>',
        '<div class="cards">',
    ]
    summary = report.summary()
    for r in summary:
        if r.question is not None:
            continue
        value = w.mean(r) or _share_yes(summary, r.dimension, w) or w.families(r)
        parts.append(
            f'<div class="card" data-dimension="{e(r.dimension)}">'
            f"<div>{e(w.dimension(r.dimension))}"
            f'</div><div class="big">{e(value)}</div><div class="note">'
            f"{e(w('col_families'))}: {e(w.families(r))}</div></div>"
        )
    parts.append("</div>")
    parts.append(f"<h2>{e(w('trend'))}</h2>")
    parts.append(
        f'<img id="trend" alt="{e(w("chart_title"))}" src="data:image/png;base64,{chart}">'
    )
    for section, rows in sections(report):
        parts.append(f"<h2>{e(w(section))}</h2>")
        parts.append(_html_table(rows, w))
    parts.append(f"<h2>{e(w('changes'))}</h2>")
    if report.changes:
        parts.append('<ul id="you-said">')
        parts.extend(
            f'<li><span class="d">{e(c.date)}</span> <b>{e(c.team)}</b>: {e(c.text)}</li>'
            for c in report.changes
        )
        parts.append("</ul>")
    else:
        parts.append(f'<p class="note" id="you-said">{e(w("no_changes"))}</p>')
    parts.extend(f'<p class="note">{e(line)}</p>' for line in notes(report, w))
    parts.append(
        f'<p class="note">{e(w("generated", date=f"{report.generated_at:%Y-%m-%d %H:%M} UTC"))}</p>'
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _share_yes(summary: Sequence[Row], dimension: str, w: Words) -> str:
    """For a dimension without a scale (continuity): the share who said yes."""
    for r in summary:
        if r.dimension == dimension and r.kind == "yes_no_unsure" and r.distribution:
            return f"{r.distribution.get('yes', 0.0):.0f}% {w.code('yes')}"
    return ""


def _html_table(rows: Sequence[Row], w: Words) -> str:
    e = html.escape
    head = ["col_measure", "col_families", "col_mean", "col_answers"]
    periods = len({r.period for r in rows}) > 1
    places = len({_where(r) for r in rows}) > 1
    lead = (["col_period"] if periods else []) + (["col_team"] if places else [])
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{e(w(h))}</th>" for h in (*lead, *head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        if r.suppressed:
            rest = f'<td colspan="2" class="hidden">{e(w.reason(r))}</td>'
        else:
            spans = " ".join(
                f'<span class="d">{e(w.code(c))}: {v:.1f}%</span>'
                for c, v in (r.distribution or {}).items()
            )
            rest = f'<td class="num">{e(w.mean(r))}</td><td>{spans}</td>'
        cells = ([r.period] if periods else []) + ([_where(r)] if places else [])
        first = "".join(f"<td>{e(c)}</td>" for c in cells)
        out.append(
            f'<tr class="{"suppressed" if r.suppressed else "published"}">'
            f"{first}<td>{e(w.measure(r))}</td>"
            f'<td class="num">{e(w.families(r))}</td>{rest}</tr>'
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def render(report: Report, fmt: str, w: Words) -> str:
    if fmt == "csv":
        return as_csv(report)
    if fmt == "json":
        return as_json(report)
    if fmt == "html":
        return as_html(report, w)
    return table(report, w)
