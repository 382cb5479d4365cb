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
    root = etree.fromstring(data, _parser())
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise UnsafeXml(f"{filename}:1: DOCTYPE declarations are not allowed in diagrams")
    return root
