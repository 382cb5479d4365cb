"""Photos and documents that come with a submission (and, once it is accepted, with its case).

What a file is, is judged by its content, never by its name or the type the browser claimed: the
first bytes must be those of a JPEG, PNG or WebP image or of a PDF, an image must open with Pillow
(its header, its size in pixels, and for JPEG a cheap reduced decode that finds a cut-off file),
and a PDF must have its end marker and no script or launch action. A PDF named `.png` is kept as
the PDF it is (its stored name ends in .pdf); a `.jpg` that is a web page or a program is refused
with a message that says so.

The bytes are kept outside the web root, in ATTACHMENTS_DIR, under their SHA-256 (the same photo
sent twice is kept once); the row (engine/persistence/models.py Attachment) holds the cleaned
name, the type found, the size and the hash. Nothing here serves a file: whoever shows one to
staff asks the rulebook first and sends it with the stored `media_type`, `nosniff` and a
Content-Disposition.

API (for the resident's page, the grid worker's page and the inbox):
    Limits(directory, max_bytes, max_files) / Limits.from_config(app.config) / Limits.default()
    Upload(filename, data)                      what came in
    check(upload, limits) -> (media_type, name) or raises UploadRefused (counted in REFUSED)
    keep(session, upload, limits, ...)          inside an acting transaction: file + row
    keep_pending(session, uploads, limits, reporter=None) -> (kept rows, refusals)
                                                own transaction; rows with no submission yet,
                                                claimed later by submissions.file_submission
    read(attachment, limits) -> bytes, path_of(attachment, limits)
    of_submission(session, id), of_case(session, id)
    forget_pending(session, limits, older_than)  rows never claimed, and files no row names
"""
import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import bindparam, delete, func, select

from engine.cases.acting import reporting
from engine.errors import UploadRefused
from engine.legaltime.clock import Clock
from engine.messages import Msg, N_
from engine.persistence.models import Attachment

log = logging.getLogger(__name__)

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
EXTENSIONS = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", PDF: ".pdf"}
IMAGES = frozenset({JPEG, PNG, WEBP})
PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}

MiB = 1024 * 1024
# A 50-megapixel phone photo passes; an image claiming more pixels than that is a decompression
# bomb or nothing a resident needs to show.
MAX_PIXELS = 64_000_000
NAME_LIMIT = 120

# Refusals counted by kind, in this process (the closing note's figures; the log has each one).
REFUSED = Counter()

# What a refused file looks like, said to the person who sent it.
WHAT = {
    "program": N_("a program"),
    "web_page": N_("a web page or script"),
    "archive": N_("a compressed archive or Office document"),
    "other": N_("not a photo or a PDF"),
}


@dataclass(frozen=True)
class Limits:
    directory: Path
    max_bytes: int = 10 * MiB
    max_files: int = 6
    max_pixels: int = MAX_PIXELS

    @classmethod
    def from_config(cls, config):
        """From a mapping holding ATTACHMENTS_DIR, UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES (app.config,
        or config.settings.upload_limits())."""
        return cls(directory=Path(config["ATTACHMENTS_DIR"]), max_bytes=int(config["UPLOAD_MAX_BYTES"]),
                   max_files=int(config["UPLOAD_MAX_FILES"]))

    @classmethod
    def default(cls):
        from config.settings import upload_limits
        return cls.from_config(upload_limits())

    @property
    def max_mb(self):
        return round(self.max_bytes / MiB, 1) if self.max_bytes % MiB else self.max_bytes // MiB


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


# ---- what the content is ---------------------------------------------------------------------

def sniff(data):
    """The media type the first bytes announce, if it is one we keep; else None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


_PROGRAMS = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!", b"\x00asm")
_ARCHIVES = (b"PK\x03\x04", b"PK\x05\x06", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BZh", b"\xfd7zXZ",
             b"\xd0\xcf\x11\xe0")  # the last: old Office files
_MARKUP = re.compile(rb"^\s*(<!doctype|<html|<\?xml|<svg|<script|<body|<head|<iframe|<a\s|<img|<meta)", re.I)


def looks_like(data):
    """For a refusal's message and the counter: what a file that is not ours seems to be."""
    head = data[:512].lstrip(b"\xef\xbb\xbf")
    if head.startswith(_PROGRAMS):
        return "program"
    if head.startswith(_ARCHIVES):
        return "archive"
    if _MARKUP.match(head) or b"<script" in data[:4096].lower():
        return "web_page"
    return "other"


# A PDF that runs code or opens other files when read; a scan or a photo of a paper has none.
_ACTIVE_PDF = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA)\b")


def _pdf_problem(data):
    if not re.match(rb"%PDF-[12]\.\d", data[:8]):
        return "damaged"
    if b"%%EOF" not in data[-2048:]:
        return "damaged"
    if _ACTIVE_PDF.search(data):
        return "active_pdf"
    return None


def _image_problem(data, media_type, limits):
    """Open the image with Pillow: the format must be what the bytes announced, the size sane,
    and a JPEG must decode (at an eighth of its size, so a large photo costs little)."""
    from PIL import Image
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format != PILLOW_FORMATS[media_type]:
                    return "damaged"
                width, height = image.size
                if width < 1 or height < 1:
                    return "damaged"
                if width * height > limits.max_pixels:
                    return "too_many_pixels"
                if media_type == JPEG:
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    image.load()
                else:
                    image.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return "too_many_pixels"
        except Exception:  # Pillow raises many kinds (OSError, SyntaxError, struct.error...) on a bad file
            return "damaged"
    return None


def _base(filename):
    """The last part of what the browser sent: no folders, no control or invisible characters,
    no leading dots."""
    name = unicodedata.normalize("NFC", str(filename or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    return name.strip().lstrip(".").strip()[:NAME_LIMIT + 10]


def clean_name(filename, media_type):
    """The name to show staff: the cleaned name, its extension replaced by the one of its content."""
    name = _base(filename)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip().strip(".").strip()[:NAME_LIMIT] or "attachment"
    return stem + EXTENSIONS[media_type]


def _refuse(kind, message, filename):
    REFUSED[kind] += 1
    log.info("upload refused (%s): %r", kind, str(filename)[:200])
    return UploadRefused(message, kind)


def check(upload, limits):
    """(media type, cleaned name) of an upload we keep, or raises UploadRefused (counted)."""
    name = _base(upload.filename) or "attachment"
    data = upload.data
    if not data:
        raise _refuse("empty", Msg("“%(name)s” is empty.", name=name), upload.filename)
    if len(data) > limits.max_bytes:
        raise _refuse("too_large", Msg("“%(name)s” is larger than %(limit)s MB.", name=name, limit=limits.max_mb),
                      upload.filename)
    media_type = sniff(data)
    if media_type is None:
        kind = looks_like(data)
        raise _refuse(kind, Msg("“%(name)s” is not a photo (JPEG, PNG, WebP) or a PDF: its content is %(what)s.",
                                name=name, what=Msg(WHAT[kind])), upload.filename)
    problem = _pdf_problem(data) if media_type == PDF else _image_problem(data, media_type, limits)
    if problem == "too_many_pixels":
        raise _refuse(problem, Msg("“%(name)s” has too many pixels; send a smaller photo.", name=name),
                      upload.filename)
    if problem == "active_pdf":
        raise _refuse(problem, Msg("“%(name)s” is a PDF with scripts or embedded files; print it to a plain PDF "
                                   "or send photos of its pages.", name=name), upload.filename)
    if problem:
        raise _refuse(problem, Msg("“%(name)s” is damaged or incomplete and cannot be opened.", name=name),
                      upload.filename)
    return media_type, clean_name(upload.filename, media_type)


# ---- keeping it --------------------------------------------------------------------------------

def path_of(attachment_or_sha, limits):
    sha = getattr(attachment_or_sha, "sha256", attachment_or_sha)
    if not re.fullmatch(r"[0-9a-f]{64}", sha or ""):
        raise ValueError("not a SHA-256")
    return Path(limits.directory) / sha[:2] / sha


def _write(data, sha, limits):
    """Into its place by content hash; written to a temporary file and renamed, so a reader never
    sees half a file and two writers of the same bytes do no harm."""
    target = path_of(sha, limits)
    if target.exists() and target.stat().st_size == len(data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def keep(session, upload, limits, submission_id=None, case_id=None, uploaded_by=None, purpose=None):
    """Check an upload and keep it: the file by its hash and a row, within the caller's
    transaction (acting.reporting; a dossier the server made: the step's own). Raises UploadRefused."""
    media_type, name = check(upload, limits)
    sha = hashlib.sha256(upload.data).hexdigest()
    _write(upload.data, sha, limits)
    row = Attachment(submission_id=submission_id, case_id=case_id, filename=name, media_type=media_type,
                     size=len(upload.data), sha256=sha, uploaded_by=uploaded_by, created_at=Clock.now(),
                     purpose=purpose)
    session.add(row)
    session.flush()
    return row


def keep_pending(session, uploads, limits, reporter=None, already=0):
    """Keep the good uploads of a form not yet filed (so a resident whose form comes back with an
    error need not choose the photos again): rows with no submission, claimed by
    submissions.file_submission. `already` is how many the form holds from before (the count
    limit is for the whole submission). Returns (kept rows, [(filename, UploadRefused)])."""
    kept, refused = [], []
    with reporting(session, reporter) as act:
        for upload in uploads:
            if already + len(kept) >= limits.max_files:
                refused.append((upload.filename, _refuse(
                    "too_many", Msg("At most %(n)s files; “%(name)s” was not kept.", n=limits.max_files,
                                    name=_base(upload.filename) or "attachment"), upload.filename)))
                continue
            try:
                kept.append(keep(session, upload, limits, uploaded_by=act.actor.user_id if act.actor else None))
            except UploadRefused as refusal:
                refused.append((upload.filename, refusal))
    return kept, refused


def pending(session, ids, reporter_id=None):
    """The rows among `ids` still waiting for their submission and sent by this reporter (None: a
    resident, whose pending ids come back to the web layer only inside a signed token)."""
    ids = [int(i) for i in ids][:100]
    if not ids:
        return []
    rows = session.scalars(select(Attachment).where(
        Attachment.id.in_(ids), Attachment.submission_id.is_(None), Attachment.case_id.is_(None),
        Attachment.uploaded_by.is_(None) if reporter_id is None else Attachment.uploaded_by == reporter_id)
        .order_by(Attachment.id)).all()
    return list(rows)


def read(attachment, limits):
    return path_of(attachment, limits).read_bytes()


def of_submission(session, submission_id):
    return list(session.scalars(select(Attachment).where(Attachment.submission_id == submission_id)
                                .order_by(Attachment.id)))


_OF_CASE = select(Attachment).where(Attachment.case_id == bindparam("b_case")).order_by(Attachment.id)  # built once


def of_case(session, case_id):
    return list(session.scalars(_OF_CASE, {"b_case": case_id}))


def forget_pending(session, limits, older_than=timedelta(days=1)):
    """Rows a form kept and nobody filed within `older_than` go, and so do their files when no
    other row names the same bytes. Returns how many rows went."""
    cutoff = Clock.now() - older_than
    with reporting(session):
        stale = session.execute(select(Attachment.id, Attachment.sha256).where(
            Attachment.submission_id.is_(None), Attachment.case_id.is_(None), Attachment.created_at < cutoff)).all()
        if not stale:
            return 0
        session.execute(delete(Attachment).where(Attachment.id.in_([row.id for row in stale])))
        shas = {row.sha256 for row in stale}
        still = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(shas))
                                    .group_by(Attachment.sha256).having(func.count() > 0)))
    for sha in shas - still:
        path_of(sha, limits).unlink(missing_ok=True)
    return len(stale)
