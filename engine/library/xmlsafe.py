"""Safe XML parsing for diagrams uploaded by people: no entities, no network, a size limit."""
from lxml import etree

MAX_XML_BYTES = 2 * 1024 * 1024


class UnsafeXml(ValueError):
    pass


def _parser():
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )


def parse_xml(data, filename="<upload>"):
    """Parse bytes into an lxml element tree root, refusing DTDs (entity bombs, external entities)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXml(f"{filename}: file is larger than {MAX_XML_BYTES // 1024} KB")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Diagrams are stored and served as UTF-8 text; a UTF-16 file (a BOM, NUL-padded) is not.
        kind = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:200] else "not UTF-8"
        raise UnsafeXml(f"the file is {kind} text; save it as UTF-8") from None
    root = etree.fromstring(data, _parser())
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise UnsafeXml(f"{filename}:1: DOCTYPE declarations are not allowed in diagrams")
    return root
