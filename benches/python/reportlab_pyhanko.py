"""The Python baseline of `cargo bench --bench documents`: the same contract text laid
out with ReportLab (same DejaVu fonts, A4, header, "Seite x von y", signature and evidence
page) and sealed with pyHanko as PAdES B-B with the same PKCS#12 key.

Prints `python_single_median_ms <ms>` and `python_bulk_seconds <s>`; the Rust benchmark
reads both. Needs `pip install reportlab pyhanko`.
"""

import argparse
import hashlib
import io
import statistics
import time
from multiprocessing import Pool

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer
from xml.sax.saxutils import escape

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

STATE = {}


def setup(font, bold, p12, password):
    pdfmetrics.registerFont(TTFont("DejaVu", font))
    pdfmetrics.registerFont(TTFont("DejaVu-Bold", bold))
    STATE["styles"] = {
        "title": ParagraphStyle("title", fontName="DejaVu-Bold", fontSize=16, leading=22, spaceAfter=8),
        "section": ParagraphStyle("section", fontName="DejaVu-Bold", fontSize=12, leading=17, spaceBefore=8, spaceAfter=3),
        "sub": ParagraphStyle("sub", fontName="DejaVu-Bold", fontSize=10.5, leading=15, spaceBefore=4),
        "body": ParagraphStyle("body", fontName="DejaVu", fontSize=10, leading=14, spaceAfter=6),
        "item": ParagraphStyle("item", fontName="DejaVu", fontSize=10, leading=14, leftIndent=6 * mm, bulletIndent=1 * mm),
    }
    STATE["signer"] = signers.SimpleSigner.load_pkcs12(p12, passphrase=password.encode())


class NumberedCanvas(canvas.Canvas):
    """Header with the reference and "Seite x von y" (needs the page count: two passes)."""

    reference = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saved = []

    def showPage(self):
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont("DejaVu", 8)
            self.drawString(25 * mm, A4[1] - 15 * mm, f"{self.reference} · Fassung 1")
            self.drawRightString(A4[0] - 20 * mm, 12 * mm, f"Seite {self._pageNumber} von {total}")
            super().showPage()
        super().save()


def render(text):
    styles = STATE["styles"]
    story = []
    paragraph = []

    def flush():
        if paragraph:
            story.append(Paragraph(escape(" ".join(paragraph)), styles["body"]))
            paragraph.clear()

    for line in text.splitlines():
        line = line.strip()
        if not line:
            flush()
        elif line.startswith("### "):
            flush()
            story.append(Paragraph(escape(line[4:]), styles["sub"]))
        elif line.startswith("## "):
            flush()
            story.append(Paragraph(escape(line[3:]), styles["section"]))
        elif line.startswith("# "):
            flush()
            if story:
                story.append(PageBreak())
            story.append(Paragraph(escape(line[2:]), styles["title"]))
        elif line.startswith("- "):
            flush()
            story.append(Paragraph(escape(line[2:]), styles["item"], bulletText="–"))
        else:
            paragraph.append(line)
    flush()
    story += [PageBreak(), Paragraph("Unterschriften", styles["title"])]
    for role in ("Für die Kommune", "Für d-NRW AöR (Kommunalvertreter.NRW)"):
        story += [Spacer(1, 4 * mm), Paragraph(role, styles["sub"]),
                  Paragraph("Elektronisch unterzeichnet am 15.01.2026, 10:00 Uhr (UTC)", styles["body"])]
    story += [PageBreak(), Paragraph("Nachweisblatt", styles["title"]),
              Paragraph("SHA-256 des Vertragstexts", styles["sub"]),
              Paragraph(hashlib.sha256(text.encode()).hexdigest(), styles["body"])]
    out = io.BytesIO()
    NumberedCanvas.reference = "EA-2026-000001"
    SimpleDocTemplate(out, pagesize=A4, leftMargin=25 * mm, rightMargin=20 * mm,
                      topMargin=27 * mm, bottomMargin=22 * mm).build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()


def seal(pdf):
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name="Siegel d-NRW",
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="Vertrag im Nachnutzungsregister abgeschlossen",
        location="Nachnutzungsregister der d-NRW AöR",
    )
    return signers.sign_pdf(writer, meta, signer=STATE["signer"]).getvalue()


def one(text):
    return len(seal(render(text)))


def init(font, bold, p12, password):
    setup(font, bold, p12, password)


def main():
    ap = argparse.ArgumentParser()
    for name in ("text", "font", "bold", "p12", "password"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bulk", type=int, default=396)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    text = open(args.text, encoding="utf-8").read()
    setup(args.font, args.bold, args.p12, args.password)

    one(text)  # warm-up
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        size = one(text)
        times.append(time.perf_counter() - start)
    median = statistics.median(times) * 1e3
    print(f"render + seal, 16-page EA (ReportLab + pyHanko)  median {median:7.2f} ms   "
          f"({args.runs} runs, {size / 1024:.0f} KiB)")
    print(f"python_single_median_ms {median:.3f}")

    start = time.perf_counter()
    with Pool(args.processes, initializer=init,
              initargs=(args.font, args.bold, args.p12, args.password)) as pool:
        sizes = pool.map(one, [text] * args.bulk)
    seconds = time.perf_counter() - start
    assert len(sizes) == args.bulk
    print(f"bulk: {args.bulk} documents rendered and sealed (ReportLab + pyHanko)  {seconds:7.2f} s wall   "
          f"({args.processes} processes, {seconds * 1e3 / args.bulk:.2f} ms/document)")
    print(f"python_bulk_seconds {seconds:.3f}")


if __name__ == "__main__":
    main()
