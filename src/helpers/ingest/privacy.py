"""Personal data: salted hash keys for identifiers and masking of contact details in free text.

Nothing personal reaches data/processed or a report: identifiers (emails, IPs) become salted
BLAKE2 keys (salt from $CX_SALT or the git-ignored .cx_salt), and personal data inside comments
(names, addresses, postcodes, bank, card and ID numbers, phones, emails, URLs; see
:mod:`helpers.ingest.pii_text`) is masked before anything is written or quoted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import paths
from helpers.ingest.pii_extra import MaskContext, may_hold_personal, recurring_words
from helpers.ingest.pii_text import mask_shared_value, mask_text, may_match

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
SALT_ENV = "CX_SALT"
SALT_FILE = ".cx_salt"


# --------------------------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------------------------
def load_salt() -> str:
    """The salt for hash keys: $CX_SALT, else the git-ignored file .cx_salt (created on first use)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env
    p = paths.PROJECT_ROOT / SALT_FILE
    if not p.exists() and not p.is_symlink():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32))
    return p.read_text(encoding="utf-8").strip()


def hash_keys(values: pd.Series, salt: str) -> pd.Series:
    """Salted BLAKE2 keys (16 hex chars) of normalised values; blanks stay missing.

    The distinct values are normalised (stripped, lower case), each distinct normalised value
    is hashed once (from copies of the keyed hash state, which skip the key block, in C-level
    loops) and the keys are spread back to the rows with an Arrow take.
    """
    codes, uniq = pd.factorize(values.astype("string"))
    norm = pd.Series(uniq, dtype="string").str.strip().str.lower()
    if len(uniq) and bool((norm == pd.Series(uniq, dtype="string")).all()) and not (norm == "").any():
        rows, distinct = codes, norm   # already normalised: the distinct values stay distinct
    else:
        norm_codes, distinct = pd.factorize(norm.where(norm != ""))
        rows = np.where(codes < 0, -1, norm_codes[np.maximum(codes, 0)] if len(uniq) else codes)
    data = pa.array(distinct, pa.string()).cast(pa.binary())
    keys = _hex_keys(_keyed_digests(data, hashlib.blake2b(key=salt.encode()[:64], digest_size=8)))
    taken = keys.take(pa.array(rows, mask=rows < 0))
    return pd.Series(taken, index=values.index, dtype="string")


#: From this many values on, :func:`start_hash_keys` hashes in a warm helper worker.
PARALLEL_HASHING = 100_000


def start_hash_keys(values: pd.Series, salt: str) -> Callable[[], pd.Series]:
    """:func:`hash_keys` started in a warm helper worker (:func:`start_in_worker`) when there
    is one and `values` are many, else computed now; the function returned waits for the keys
    (the same either way). The caller's process goes on meanwhile: hashing holds the GIL."""
    if len(values) < PARALLEL_HASHING:
        keys = hash_keys(values, salt)
        return lambda: keys
    return start_in_worker(hash_keys, values, salt)


def start_in_worker(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """`fn(*args)` in a warm helper worker (:func:`masking_workers`) when there is one, the
    caller going on meanwhile, else now; the function returned waits for the result (an error
    in the worker is raised by it as it would have been in the process, its one line alone)."""
    pool = _HELPERS[0]
    if pool is None:
        value = fn(*args)
        return lambda: value
    future = pool.submit(fn, *args)

    def result() -> T:
        try:
            return future.result()
        except Exception as exc:
            raise exc from None
    return result


def _keyed_digests(data: pa.Array, keyed: hashlib.blake2b, batch: int = 2048) -> bytes:
    """The digests of `data` (binary) from copies of `keyed`, concatenated (a batch of values
    and hash states alive at a time: the loop stays in C, the states stay in cache)."""
    from collections import deque
    from itertools import repeat

    copy, update, digest = hashlib.blake2b.copy, hashlib.blake2b.update, hashlib.blake2b.digest
    out = []
    for i in range(0, len(data), batch):
        part = data.slice(i, batch).to_pylist()
        states = list(map(copy, repeat(keyed, len(part))))
        deque(map(update, states, part), 0)
        out.append(b"".join(map(digest, states)))
    return b"".join(out)


_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), np.uint16)


def _hex_keys(digests: bytes, size: int = 8) -> pa.Array:
    """Digests of `size` bytes each as an Arrow string array of lower-case hex."""
    n = len(digests) // size
    chars = _HEX_PAIRS[np.frombuffer(digests, np.uint8)]
    offsets = np.arange(0, 2 * size * n + 1, 2 * size, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars)).cast(pa.string())


#: From this many distinct comments on, masking runs in worker processes (one per core).
PARALLEL_MASKING = 20_000


def mask_texts(texts: list[str], workers: int | None = None, context: MaskContext | None = None
               ) -> list[str]:
    """:func:`~helpers.ingest.pii_text.mask_text` of each text, in order (see :func:`start_mask_texts`)."""
    return start_mask_texts(texts, workers, context)()


def start_mask_texts(texts: list[str], workers: int | None = None, context: MaskContext | None = None
                     ) -> Callable[[], list[str]]:
    """Start masking `texts`; the function returned waits for the masked texts, in order.

    The gates of each text (:func:`~helpers.ingest.pii_text.may_match`, one Arrow pass per
    gate over all texts) skip the steps that cannot change it. Masking is pure Python (regular
    expressions, libphonenumber), so a large batch is split over forked worker processes where
    the platform forks (they only run :func:`mask_text`, and forking, unlike spawning, never
    re-runs the caller's script), and the caller goes on with other work meanwhile; the result
    is the same as masking one by one.
    """
    from functools import partial

    may = may_match(texts, context)
    workers = _worker_count() if workers is None else workers
    warm = _WARM[0] if workers == _worker_count() > 1 else None  # one worker: no pool (a part process)
    if warm is None and (workers < 2 or len(texts) < PARALLEL_MASKING or not can_fork()):
        masked = list(map(partial(_mask_gated, context=context), texts, may))
        return lambda: masked
    pool = warm or forked_pool(workers)
    masker = partial(_mask_shipped, context=_ShippedContext(context))
    results = pool.map(masker, texts, may, chunksize=max(500, len(texts) // (workers * 8)))

    def finish() -> list[str]:
        try:
            return list(results)
        finally:
            if pool is not warm:
                pool.shutdown()
    return finish


_WARM: list[ProcessPoolExecutor | None] = [None]
#: The helper worker forked with the masking workers, for the jobs of :func:`start_in_worker`.
_HELPERS: list[ProcessPoolExecutor | None] = [None]


@contextlib.contextmanager
def masking_workers() -> Iterator[None]:
    """Fork the masking workers now, while the process is small, for the masking of a large
    export inside the block: a worker forked later keeps a copy of every page its parent
    changes meanwhile (at 1M responses two workers forked after the parse held 1.3 GB).
    One helper worker is forked with them, for the jobs started before the masking
    (:func:`start_in_worker`, one at a time: two at once added their memory to the cleaning's);
    :func:`end_helpers` stops it once those are done."""
    if _WARM[0] is not None or _worker_count() < 2 or not can_fork():
        yield
        return
    pool = forked_pool(_worker_count())
    _WARM[0], _HELPERS[0] = pool, forked_pool(1)
    try:
        yield
    finally:
        _WARM[0] = None
        end_helpers()
        pool.shutdown(cancel_futures=True)


def end_helpers() -> None:
    """Stop the helper worker, its jobs done: the memory it used is given back before the
    cleaning's peak (a worker keeps what it freed), and so is the heap that carried their
    arguments and results here (glibc keeps large freed blocks)."""
    import ctypes

    helpers, _HELPERS[0] = _HELPERS[0], None
    if helpers is not None:
        helpers.shutdown(cancel_futures=True)
        with contextlib.suppress(OSError, AttributeError):   # glibc only
            ctypes.CDLL("libc.so.6").malloc_trim(0)


#: At most this many masking workers; 1 in a process that is itself one of several at work
#: (a part of a large export cleaned beside others: :mod:`helpers.ingest.parts`).
MASKING_PROCESSES = 8


def _worker_count() -> int:
    return min(os.cpu_count() or 1, MASKING_PROCESSES)


def can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def forked_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes forked now (a fork pool starts them all at once)."""
    import multiprocessing
    import warnings
    from concurrent.futures import ProcessPoolExecutor

    from helpers.lifetime import die_with_parent

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    with warnings.catch_warnings():  # a kernel's idle I/O threads: the workers never touch them
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        pool.submit(int).result()  # forks every worker (a fork pool starts them all at once)
    return pool


def _mask_gated(text: str, may: int, context: MaskContext | None) -> str:
    return mask_text(text, context, may)


class _ShippedContext:
    """A masking context pickled once, for the chunks sent to worker processes: each chunk
    carries its bytes (a copy, not a pickling of a programme's company names and vocabulary,
    0.13 s each at 1M responses), and a worker unpickles them the first time it sees them."""

    def __init__(self, context: MaskContext | None) -> None:
        import pickle

        self.token = secrets.token_hex(8)
        self.payload = pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)

    def get(self) -> MaskContext | None:
        if self.token not in _SHIPPED:
            import pickle

            _SHIPPED.clear()
            _SHIPPED[self.token] = pickle.loads(self.payload)
        return _SHIPPED[self.token]


#: In a worker process: the context of the masking in progress, by its token.
_SHIPPED: dict[str, MaskContext | None] = {}


def _mask_shipped(text: str, may: int, context: _ShippedContext) -> str:
    return mask_text(text, context.get(), may)


def programme_context(texts: list[str], context: MaskContext | None = None) -> MaskContext:
    """`context` (or an empty one) with the words that recur across `texts` added to its
    vocabulary: a programme's product and brand names, towns and terms are not names."""
    return (context or MaskContext()).with_keep(recurring_words(texts))


def mask_comments(comments: pd.Series, context: MaskContext | None = None, *,
                  vocabulary: bool = True) -> pd.Series:
    """Mask personal data in free-text comments (each distinct comment is masked once).

    Only the comments that can hold personal data (:func:`~helpers.ingest.pii_extra.may_hold_personal`,
    one vectorised test) go through the masker. With `vocabulary`, words that recur across the
    comments are the programme's own (:func:`programme_context`).
    """
    return start_mask_comments(comments, context, vocabulary=vocabulary)()


def start_mask_comments(comments: pd.Series, context: MaskContext | None = None, *,
                        vocabulary: bool = True) -> Callable[[], pd.Series]:
    """:func:`mask_comments` started (in worker processes for many comments); the function
    returned waits for the masked comments."""
    s = comments.astype("string")
    codes, uniq = pd.factorize(s)
    if len(uniq) == 0:
        return lambda: s
    texts = [str(u) for u in uniq]
    if vocabulary:
        context = programme_context(texts, context)
    candidates = np.flatnonzero(may_hold_personal(texts, context))
    pending = start_mask_texts([texts[i] for i in candidates], context=context)

    def finish() -> pd.Series:
        for i, m in zip(candidates, pending(), strict=True):
            texts[i] = m
        masked = pd.array(texts, dtype="string")
        out = pd.Series(masked.take(np.where(codes < 0, 0, codes)), index=s.index, name=s.name,
                        dtype="string")
        return out.where(codes >= 0)
    return finish


def mask_field(values: pd.Series, context: MaskContext | None = None, rare: int = 5) -> pd.Series:
    """Personal data in a text field other than the comment: values held by fewer than `rare`
    rows are masked in full, the others for contact details and names a title or the whole
    value marks as a person's (:func:`~helpers.ingest.pii_text.mask_shared_value`: a segment
    level many respondents share is otherwise no one's name). Distinct values are masked once
    (Arrow's dictionary encoding); a field with nothing to mask comes back as it was."""
    import pyarrow.compute as pc

    column = pa.array(values.astype("string"), from_pandas=True)
    if isinstance(column, pa.ChunkedArray):   # a column read from Arrow (parquet, pyarrow strings)
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    texts = encoded.dictionary.to_pylist()
    if not texts:
        return values
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    candidates = may_hold_personal(texts, context)
    out = [(mask_text(t, context) if n < rare else mask_shared_value(t)) if c else t
           for t, n, c in zip(texts, counts, candidates, strict=True)]
    if out == texts:
        return values
    masked = pd.array(out, dtype="string")
    return pd.Series(masked.take(np.maximum(codes, 0)), index=values.index, name=values.name,
                     dtype="string").where(codes >= 0)


#: Contact details in an identifier (RE2, run by Arrow): an e-mail, a web address, a phone
#: number written with a country code or in groups ("+44 20 7946 0958", "020-7946-0958").
CONTACT_IN_ID = (r"[\w.+-]+@[\w-]+\.\w|://|(?i:www)\.|\+\d[\d\s().-]{6,}\d|"
                 r"\b\d{2,5}[\s.-]\d{3,4}[\s.-]\d{3,4}\b")


def holds_contact(values: pd.Series) -> np.ndarray:
    """Which values hold contact details (:data:`CONTACT_IN_ID`), tested by Arrow over the whole
    column at once: cheap on a million distinct response ids."""
    import pyarrow.compute as pc

    hit = pc.match_substring_regex(pa.array(values.astype("string"), from_pandas=True), CONTACT_IN_ID)
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), bool)


def mask_pii(comments: Iterable[object] | pd.Series, context: MaskContext | None = None) -> pd.Series:
    """Replace personal data in each text with placeholders ([email], [phone], [name], ...).

    See :mod:`helpers.ingest.pii_text` for what is found and how; `context` adds a programme's
    vocabulary and company names. Missing comments stay missing.
    """
    s = comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)

    def _one(c: object) -> object:
        if c is None or c is pd.NA or (isinstance(c, float) and np.isnan(c)):
            return c
        return mask_text(str(c), context)

    return pd.Series([_one(c) for c in s.astype(object)], index=s.index, name=s.name, dtype=object)
