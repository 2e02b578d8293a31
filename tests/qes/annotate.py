"""Adds a comment (a FreeText annotation) to page 1 of a PDF as an incremental update:
what signature software must not do besides signing. Used by tests/it/qes.rs.

Usage: python3 tests/qes/annotate.py IN.pdf OUT.pdf
"""
import sys

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

with open(sys.argv[1], "rb") as f:
    w = IncrementalPdfFileWriter(f)
    page_ref = w.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    annot = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
        generic.NameObject("/Rect"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (100, 100, 400, 140)]),
        generic.NameObject("/Contents"): generic.TextStringObject("Nur unter Vorbehalt"),
        generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
    })
    ref = w.add_object(annot)
    annots = list(page.get("/Annots", generic.ArrayObject()))
    page[generic.NameObject("/Annots")] = generic.ArrayObject(annots + [ref])
    w.update_container(page)
    with open(sys.argv[2], "wb") as out:
        w.write(out)
