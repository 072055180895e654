"""The incident record laid out twice: as one self-contained HTML page (the map inline as SVG, photos
beside it in the package) and as a PDF through fpdf2 (pure Python, LGPL-3.0, installed as a dependency;
its core fonts are Latin-1, so other characters print as '?' in the PDF and stay whole in the HTML and
JSON). Pure: the record in, bytes out."""

import io
from datetime import datetime
from html import escape
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from sealguard.evidence.record import Record, Section, record

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1c1c1c}
h1{font-size:1.5rem;margin:0}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border:1px solid #ddd;padding:.25rem .4rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}
dl{display:grid;grid-template-columns:12rem 1fr;gap:.2rem .8rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}pre{background:#f7f7f7;padding:.5rem;overflow:auto;font-size:12px}
.cap{font-size:12px;color:#444;overflow-wrap:anywhere}figure{display:inline-block;margin:.4rem}img{max-width:18rem}
.sub{color:#555}svg{max-width:100%;height:auto;border:1px solid #ccc}
"""


def _section_html(s: Section, drawing_svg: str | None) -> str:
    out = [f"<section><h2>{escape(s.title)}</h2>"]
    if s.facts:
        out.append("<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in s.facts) + "</dl>")
    if drawing_svg is not None:
        out.append(drawing_svg)
    if s.note:
        out.append(f"<p>{escape(s.note)}</p>")
    if s.table is not None and s.table[1]:
        head, rows = s.table
        out.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</table>")
    if s.bullets:
        out.append("<ol>" + "".join(f"<li>{escape(b)}</li>" for b in s.bullets) + "</ol>")
    for caption, text in s.blocks:
        out.append(f'<p class="cap">{escape(caption)}</p><pre>{escape(text)}</pre>')
    for file, caption in s.photos:
        out.append(f'<figure><img src="{escape(file)}" alt="{escape(caption)}">'
                   f'<figcaption class="cap">{escape(caption)}</figcaption></figure>')  # fmt: skip
    out.append("</section>")
    return "".join(out)


def html(rec: Record) -> bytes:
    parts = ['<!doctype html><html lang="en"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>{escape(rec.title)}: {escape(rec.subtitle)}</title><style>{_CSS}</style></head><body>"
             f'<h1>{escape(rec.title)}</h1><p class="sub">{escape(rec.subtitle)}</p>']  # fmt: skip
    for s in rec.sections:
        svg = rec.drawing.svg() if s.title == "Where and when" and rec.drawing is not None else None
        parts.append(_section_html(s, svg))
    parts.append("</body></html>")
    return "".join(parts).encode()


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"page {self.page_no()}/{{nb}}", align="C")


def _draw_map(pdf: FPDF, rec: Record) -> None:
    d = rec.drawing
    if d is None:
        return
    width = pdf.epw
    k = width / d.width
    height = d.height * k
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    x0, y0 = pdf.l_margin, pdf.get_y()
    with pdf.rect_clip(x0, y0, width, height):
        pdf.set_fill_color(238, 243, 247)
        pdf.rect(x0, y0, width, height, style="F")

        def line(points: list[tuple[float, float]], lw: float, rgb: tuple[int, int, int]) -> None:
            if len(points) > 1:
                pdf.set_draw_color(*rgb)
                pdf.set_line_width(lw)
                pdf.polyline([(x0 + x * k, y0 + y * k) for x, y in points])

        for b in d.borders:
            line(b, 0.2, (154, 167, 177))
        line(d.route, 0.8, (91, 141, 239))
        line(d.track, 0.5, (34, 34, 34))
        pdf.set_font("Helvetica", size=7)
        pdf.set_text_color(50, 50, 50)
        for p in d.places:
            pdf.text(x0 + p.x * k + 1, y0 + p.y * k - 1, _latin(p.text))
        pdf.set_fill_color(214, 39, 40)
        for x, y, _ in d.marks:
            pdf.circle(x0 + x * k, y0 + y * k, 1.6, style="F")
    pdf.set_draw_color(180, 180, 180)
    pdf.set_line_width(0.2)
    pdf.rect(x0, y0, width, height)
    # what the map set must not leak into the text and tables after it
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("Helvetica", size=9)
    pdf.set_y(y0 + height + 2)


def pdf(rec: Record, files: dict[str, bytes], created: datetime) -> bytes:
    doc = _Pdf(format="A4")
    doc.set_auto_page_break(True, margin=15)
    doc.set_title(_latin(f"{rec.title}: {rec.subtitle}"))
    doc.set_creator("sealguard")
    doc.set_creation_date(created)  # the export's time, not the clock's: the same facts give the same bytes
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    doc.multi_cell(0, 8, _latin(rec.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    doc.set_font("Helvetica", size=10)
    doc.multi_cell(0, 6, _latin(rec.subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    for s in rec.sections:
        doc.ln(3)
        doc.set_font("Helvetica", "B", 12)
        doc.multi_cell(0, 7, _latin(s.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        doc.set_font("Helvetica", size=9)
        for k, v in s.facts:
            doc.set_font("Helvetica", "B", 9)
            doc.cell(40, 5, _latin(k))
            doc.set_font("Helvetica", size=9)
            doc.multi_cell(0, 5, _latin(v), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        if s.title == "Where and when":
            _draw_map(doc, rec)
        if s.note:
            doc.multi_cell(0, 5, _latin(s.note), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        if s.table is not None and s.table[1]:
            head, rows = s.table
            doc.set_font("Helvetica", size=7)
            with doc.table(headings_style=FontFace(emphasis="BOLD", fill_color=(240, 240, 240)), text_align="LEFT",
                           line_height=4) as table:  # fmt: skip
                table.row([_latin(h) for h in head])
                for row in rows:
                    table.row([_latin(c) for c in row])
            doc.set_font("Helvetica", size=9)
        for i, b in enumerate(s.bullets, start=1):
            doc.multi_cell(0, 5, _latin(f"{i}. {b}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        for caption, text in s.blocks:
            doc.set_font("Helvetica", "I", 8)
            doc.multi_cell(0, 4, _latin(caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
            doc.set_font("Courier", size=7)
            doc.multi_cell(0, 3.2, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
            doc.set_font("Helvetica", size=9)
        for file, caption in s.photos:
            data = files.get(file)
            if data is None:
                continue
            try:
                doc.image(io.BytesIO(data), w=70)
            except Exception:  # a photo the PDF cannot embed is still in the package, named here
                doc.multi_cell(0, 5, _latin(f"(photo {file} cannot be shown in the PDF)"),
                               new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")  # fmt: skip
            doc.set_font("Helvetica", "I", 7)
            doc.multi_cell(0, 4, _latin(caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
            doc.set_font("Helvetica", size=9)
    return bytes(doc.output())


def render(doc: dict[str, Any], files: dict[str, bytes]) -> dict[str, bytes]:
    """The reports of a package: ``report.html`` and ``report.pdf``."""
    rec = record(doc)
    created = datetime.fromisoformat(doc["generated_at"])
    return {"report.html": html(rec), "report.pdf": pdf(rec, files, created)}
