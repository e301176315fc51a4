"""The leadership report as a PDF (reportlab): the same words and numbers as its page."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from web.domain import analytics
from web.i18n import Texts

INK = colors.HexColor("#1f2328")
MUTED = colors.HexColor("#57606a")
LINE = colors.HexColor("#d0d7de")
ACCENT = colors.HexColor("#3b4cca")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=14, textColor=INK)
    return {
        "title": ParagraphStyle(
            "title",
            parent=base["Title"],
            fontSize=22,
            leading=26,
            alignment=0,
            textColor=INK,
            spaceAfter=4,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base["Heading2"],
            fontSize=14,
            leading=18,
            textColor=INK,
            spaceBefore=12,
            spaceAfter=6,
        ),
        "body": body,
        "muted": ParagraphStyle("muted", parent=body, textColor=MUTED, fontSize=9, leading=12),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=12),
    }


# Characters the PDF's standard fonts lack, as the nearest ones they have.
PLAIN = str.maketrans({"\u2212": "-", "\u202f": "\u00a0", "\u2009": " "})


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text).translate(PLAIN)), style)


def _table(rows: list[list[Any]], widths: list[float], styles: dict[str, ParagraphStyle]) -> Table:
    cells = [[c if isinstance(c, Paragraph) else _p(c, styles["cell"]) for c in r] for r in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.5, LINE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def render_pdf(texts: Texts, view: analytics.View, context: dict[str, Any]) -> bytes:
    """The report's content as PDF bytes, A4 portrait."""
    from web.entrypoints.analytics import period_text

    _ = texts.gettext
    s = _styles()
    out = io.BytesIO()
    title = _("Report for leadership")
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="Chorus",
        lang=texts.language,
    )
    width = A4[0] - 36 * mm
    story: list[Any] = [
        _p(title, s["title"]),
        _p(period_text(texts, view.start, view.end), s["muted"]),
        _p(
            _("Made on %(day)s. Days are UTC days.", day=texts.date(context["generated"], "long")),
            s["muted"],
        ),
        Spacer(1, 8),
        _p(_("Why we have the program"), s["h2"]),
        _p(context["purpose"], s["body"]),
        _p(_("Goals"), s["h2"]),
    ]
    goals = context["report_goals"]
    if goals:
        rows: list[list[Any]] = [[_("Goal"), _("Progress"), _("State")]]
        for g in goals:
            rows.append(
                [
                    g.get("name"),
                    _(
                        "%(value)s of %(target)s (%(percent)s)",
                        value=texts.number(g.get("value") or 0),
                        target=texts.number(g.get("target") or 0),
                        percent=texts.percent(g["share"]),
                    ),
                    _("Achieved")
                    if g.get("achieved")
                    else _("On track")
                    if g.get("on_track")
                    else _("Behind"),
                ]
            )
        story.append(_table(rows, [width * 0.45, width * 0.35, width * 0.2], s))
    else:
        story.append(_p(_("No goals are set yet."), s["body"]))
    story.append(_p(_("Trends against the previous period"), s["h2"]))
    story.append(
        _p(
            _(
                "The previous period: %(period)s.",
                period=period_text(texts, context["previous_start"], context["previous_end"]),
            ),
            s["muted"],
        )
    )
    rows = [[_("Figure"), _("This period"), _("Previous period"), _("Change")]]
    for card in context["cards"]:
        rows.append([card["label"], card["text"], card["previous"], card["change"]])
    story.append(_table(rows, [width * 0.3, width * 0.2, width * 0.2, width * 0.3], s))
    story.append(_p(_("Network growth and participation"), s["h2"]))
    rows = [[_("Figure"), _("This period"), _("Previous period")]]
    for row in context["growth_rows"]:
        rows.append([row["label"], row["text"], row["previous"]])
    story.append(_table(rows, [width * 0.5, width * 0.25, width * 0.25], s))
    story.append(_p(_("Top stories"), s["h2"]))
    if context["stories"]:
        rows = [[_("Content"), _("Shares"), _("Unique clicks"), _("Reach")]]
        for row in context["stories"]:
            rows.append(
                [
                    row["name"],
                    texts.number(row.get("shares") or 0),
                    texts.number(row.get("unique_clicks") or 0),
                    texts.number(row.get("reach") or 0),
                ]
            )
        story.append(_table(rows, [width * 0.52, width * 0.16, width * 0.16, width * 0.16], s))
    else:
        story.append(_p(_("Nothing was shared in this period."), s["body"]))
    doc.build(story)
    return out.getvalue()
