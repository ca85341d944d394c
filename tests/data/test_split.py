"""The tail split's arithmetic: which document holds the boundary, and where a stream is cut."""

import numpy as np

from minnow.data.split import cut, in_tail, is_cut, paragraph_start, tail_boundaries, tail_start


def boundaries(sizes: list[int], val_fraction: float, parts: list[int] | None = None):
    """tail_boundaries of one source whose documents, in reading order, have `sizes`."""
    n = len(sizes)
    part = np.array(parts if parts else [0] * n)
    rows = np.array([sum(p == q for q in part[:i]) for i, p in enumerate(part)])
    return tail_boundaries(np.zeros(n, int), part, rows, np.array(sizes), val_fraction).get(0)


def test_the_boundary_is_the_document_holding_the_tails_first_byte():
    b = boundaries([50, 30, 20], 0.1)  # byte 90 of 100: the third document's 10th
    assert (b.holder, b.offset, b.following) == (2, 10, None)
    b = boundaries([50, 30, 20], 0.2)  # byte 80: the third document's first, so it goes whole
    assert (b.holder, b.offset, b.following) == (2, 0, None)
    b = boundaries([1000], 0.1)
    assert (b.holder, b.offset, b.following) == (0, 900, None)
    # byte 55, the second document's 5th: exact arithmetic (in floats, (1 - 0.45) * 100 is 55.00000000000001)
    b = boundaries([50, 30, 20], 0.45)
    assert (b.holder, b.offset, b.following) == (1, 5, 2)


def test_the_boundary_follows_reading_order_not_array_order():
    # the arrays list part 1 before part 0: reading order is part 0's documents, then part 1's
    b = boundaries([40, 60], 0.5, parts=[1, 0])  # reading order: 60 (part 0), then 40 (part 1)
    assert (b.holder, b.offset, b.following) == (1, 50, 0)


def test_a_source_of_empty_documents_has_no_boundary():
    assert boundaries([0, 0], 0.1) is None


def test_paragraph_start_is_the_first_non_blank_line_after_a_blank_one_in_utf8_bytes():
    text = "Ça va?\nOui.\n\nNon — jamais.\n\n\nFin.\n"
    data = text.encode()
    second, third = data.index(b"Non"), data.index(b"Fin")
    assert paragraph_start(text, 0) == 0
    assert paragraph_start(text, 1) == second  # "Ça" is 3 bytes: a byte count, not characters
    assert paragraph_start(text, second) == second
    assert paragraph_start(text, second + 1) == third  # several blank lines are one gap
    assert paragraph_start(text, third + 1) is None
    assert paragraph_start("one paragraph\nof two lines\n", 3) is None


def test_a_cut_splits_bytes_at_a_line_start_and_joins_back():
    text = "Ça va?\n\nNon — jamais.\n"
    at = paragraph_start(text, 1)
    head, tail = cut(text, at)
    assert (head, tail) == ("Ça va?\n\n", "Non — jamais.\n")
    assert (head + tail).encode() == text.encode()


def test_a_tail_start_sends_later_documents_whole_and_its_own_in_two():
    start = tail_start(1, 4, byte=120)
    assert not in_tail(1, 3, start) and not in_tail(0, 9, start)
    assert not in_tail(1, 4, start) and is_cut(1, 4, start)  # cut: head to train, tail to val
    assert in_tail(1, 5, start) and in_tail(2, 0, start) and not is_cut(1, 5, start)
    whole = tail_start(1, 4)
    assert in_tail(1, 4, whole) and not is_cut(1, 4, whole)
    assert not in_tail(5, 5, None) and not is_cut(5, 5, None)
