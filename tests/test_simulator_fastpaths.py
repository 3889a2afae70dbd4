"""Simulator fast paths give exactly what the plain code they shortcut gives.

Each fast path (lean header parsing, orjson bodies, run-length ledger columns, the vectorised
delivery draw, ids from ready-made tails, blank-free list splitting) is checked against the
straightforward computation on inputs chosen to hit its fallbacks too.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import sys
import threading
import zlib
from array import array
from http.client import parse_headers

import pytest

from buka_nb.simulator.common import csv_list
from buka_nb.simulator.columns import Chunks, IdRange, Joined, ListColumn, Runs
from buka_nb.simulator.ledger import Group, Ledger
from buka_nb.simulator.server import Headers, parse_json, read_headers
from buka_nb.simulator.state import TZ, SimState

HEADER_BLOCKS = [
    b"Api-Key: k\r\nTimestamp: 1\r\nSign: s\r\n\r\n",
    b"api-key:k\r\nAPI-KEY: second\r\n\r\n",                  # first of repeated headers wins
    b"X: \t padded \t\r\nY:\r\n\n",                          # blanks after the colon, empty value
    b"X: caf\xe9\r\n\r\n",                                   # latin-1 value
    b"X: folded\r\n  more\r\n\r\n",                          # obs-fold: the email parser's call
    b"X : space before colon\r\nY: y\r\n\r\n",               # not a header line: ends the headers
    b"X: a\rb\r\n\r\n",                                      # stray CR splits the line
    b"no colon\r\n\r\n",
    b"",                                                     # no header lines at all
    b"X: eof-terminated",
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_read_headers_answers_like_http_client(block):
    ours, theirs = read_headers(io.BytesIO(block)), parse_headers(io.BytesIO(block))
    for name in ("api-key", "API-KEY", "Timestamp", "sign", "x", "X", "y", "missing"):
        assert ours.get(name) == theirs.get(name) and ours.get(name, "d") == theirs.get(name, "d")
    assert isinstance(ours, Headers) == (HEADER_BLOCKS.index(block) in (0, 1, 2, 3, 8))  # else the fallback


def test_read_headers_keeps_http_client_limits():
    for block in (b"X: " + b"a" * 70000 + b"\r\n\r\n", b"X: a\r\n" * 100 + b"\r\n"):
        errors = []
        for parse in (parse_headers, read_headers):
            with pytest.raises(Exception) as err:
                parse(io.BytesIO(block))
            errors.append((type(err.value), str(err.value)))
        assert errors[0] == errors[1]


@pytest.mark.parametrize("raw", [
    b'{"a": "x", "n": [1, 2, {"b": null}]}', b'{"a": 1, "a": 2}', b'{"big": 123456789012345678901234567890}',
    b'{"f": 1.5e3, "neg": -0}', b'{"nan": NaN}', b'{"s": "\\ud800"}', b'\xef\xbb\xbf{"bom": 1}',
    '{"utf16": 1}'.encode("utf-16"), b'{"deep": ' + b"[" * 50 + b"]" * 50 + b"}",
])
def test_parse_json_means_what_json_loads_means(raw):
    ours, theirs = parse_json(raw), json.loads(raw)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("raw", [b"{bad", b"[1,]", b'"\xff"'])
def test_parse_json_refuses_what_json_refuses(raw):
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        parse_json(raw)


def test_csv_list_equals_strip_per_item():
    for value in ["", " ", "a", "a,b", " a , b ", "a,,b", "a,\u00a0b", "\u2003", ",", "a\x1cb,c"]:
        expected = [item.strip() for item in value.split(",")] if value.strip() else []
        assert csv_list(value) == expected


def test_joined_keeps_a_list_whose_items_hold_commas_and_list_column_takes_both_appends():
    assert Joined.of(["a,b", "c"]) == ["a,b", "c"]
    assert Joined.of([]) == []
    assert Joined.of([""]).tolist() == [""]
    column = ListColumn()
    column.append_run(7, 3)
    column.append_chunk(array("d", [1.5, 2.5]))
    column[1] = 8
    assert column == [7, 8, 7, 1.5, 2.5] and column[1:3] == [8, 7] and type(column[1:3]) is list


def test_runs_read_like_the_list_they_replace():
    rng = random.Random(5)
    for _ in range(300):
        runs, plain = Runs(), []
        for _ in range(rng.randrange(6)):
            value, n = rng.choice(["a", "b", 1, 2.0, None]), rng.randrange(4)
            runs.append_run(value, n)
            plain += [value] * n
        assert len(runs) == len(plain) and list(runs) == plain
        for a, b in itertools.product(range(-3, len(plain) + 2), repeat=2):
            assert runs[a:b] == plain[a:b]
        for i in range(-len(plain), len(plain)):
            assert runs[i] == plain[i]
        with pytest.raises(IndexError):
            runs[len(plain)]


def reference_decide(state, channel, recipients, content, submit_at):
    """The per-number draw as it was written before it was vectorised."""
    lo, hi = state.report_delay
    model = state.delivery
    p_ok, p_fail = model.delivered, model.failed
    span, slow_span = hi - lo, hi * (model.slow_factor - 1.0)
    base = zlib.crc32(f"{state.seed}|{channel}|{content}".encode("utf-8"))
    hs = [(zlib.crc32(r.encode(), base) * 2654435761) & 0xFFFFFFFF for r in recipients]
    deliver = [submit_at + lo + (h >> 16) * (span / 65536.0) for h in hs]
    outcome, reason = ["delivered"] * len(hs), ["success"] * len(hs)
    for i, h in enumerate(hs):
        u, v = (h & 0xFFFF) / 65536.0, (h >> 16) / 65536.0
        if (h & 0xFFFF) >= p_ok * 65536.0:
            if u < p_ok + p_fail:
                outcome[i], reason[i] = "failed", model.fail_reason(channel, (u - p_ok) / p_fail)
            else:
                deliver[i] = submit_at + hi + v * slow_span
    return deliver, outcome, reason


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize("delivery", [None, {"delivered": 0.5, "failed": 0.3, "slow": 0.2},
                                      {"delivered": 0.0, "failed": 0.6, "slow": 0.4}])
def test_vectorised_draw_is_bit_identical(delivery, channel):
    state = SimState(seed=4, report_delay=(1.5, 29.0), delivery=delivery)
    groups = [([f"91{k:03d}{i:07d}" for i in range(n)], f"text {k} é") for k, n in enumerate([0, 1, 38, 500])]
    drawn = state.decide_groups(channel, groups, 1764000000.123)
    for (recipients, content), fate in zip(groups, drawn):
        assert fate == reference_decide(state, channel, recipients, content, 1764000000.123)
        assert {type(t) for t in fate[0]} <= {float} and {type(r) for r in fate[2]} <= {str}
    reasons = {r for _, _, reason in drawn for r in reason}
    assert len(reasons) > (3 if channel == "sms" else 2)  # several failure reasons were picked
    # packed (what sendSms hands the ledger): the same doubles, bit for bit, in an array('d')
    deliver, outcome, reason = state.decide_all(channel, groups, 1764000000.123, packed=True)
    assert isinstance(deliver, array) and deliver.typecode == "d"
    assert (deliver.tobytes(), outcome, reason) == (array("d", [t for fate in drawn for t in fate[0]]).tobytes(),
                                                    [o for fate in drawn for o in fate[1]],
                                                    [r for fate in drawn for r in fate[2]])


@pytest.mark.parametrize("now", [1764000000.5, 1104537600.0])  # 2025 and 2005 (a leading zero)
def test_ids_are_prefix_and_seven_digit_counter(now):
    from datetime import datetime

    state = SimState()
    state._next_id = 9_000_000 - 1500  # the counter wraps inside this test
    prefix = datetime.fromtimestamp(now, TZ).strftime("%y%m%d%H%M%S")
    for n in (1, 999, 1001, 2000):
        ids = state.new_ids(n, now)
        counter = 1_000_000 + ids.serial % 9_000_000
        assert ids == [prefix + str(c) for c in range(counter, counter + n)]


def test_chunks_of_lists_id_ranges_joined_texts_and_arrays_read_like_one_list():
    rng = random.Random(9)
    for _ in range(200):
        column, plain = Chunks(), []
        for _ in range(rng.randrange(5)):
            kind = rng.random()
            if kind < 0.25:
                chunk = [rng.random() for _ in range(rng.randrange(4))]
            elif kind < 0.4:
                chunk = array("d", [rng.random() for _ in range(rng.randrange(4))] + [float("inf")])
            elif kind < 0.6:
                items = [rng.choice(["", "o-1", " spaced ", "ü\"q", "x" * rng.randrange(30)]) for _ in range(rng.randrange(1, 50))]
                chunk = Joined.of(items)
                assert isinstance(chunk, Joined) and chunk.tolist() == items and len(chunk) == len(items)
            else:
                n = rng.randrange(2100)
                counter = rng.randrange(1_000_000, 9_999_999 - n)
                chunk = IdRange(0, "261201123456", counter, n)
                assert chunk.tolist() == ["261201123456" + str(counter + k) for k in range(n)]
            column.append_chunk(chunk)
            plain += list(chunk)
        assert len(column) == len(plain) and column[:] == plain
        points = sorted({0, 1, -1, len(plain), *(rng.randrange(-len(plain) - 2, len(plain) + 3) for _ in range(5))})
        for a, b in itertools.product(points, repeat=2):
            assert column[a:b] == plain[a:b] and column[a:b:2] == plain[a:b:2] and column[b:a:-1] == plain[b:a:-1]
        for i in range(-len(plain), len(plain), max(1, len(plain) // 40)):
            assert column[i] == plain[i]


def test_sms_items_json_is_json_dumps_of_the_items():
    from buka_nb.simulator.sms import _items_json

    rng = random.Random(11)
    plain = ["", "o-1", "4c268447-12", "x" * 30]
    awkward = ['q"uote', "back\\slash", "ü", "tab\there", "\x01", "line\u2028sep", "del\x7f"]
    for case in range(60):
        n = rng.randrange(0, 2500)  # ids run across thousands: several 16-digit heads
        ids = IdRange(0, "261201123456", rng.randrange(1_000_000, 9_999_999 - n), n)
        numbers = [str(rng.randrange(10**6, 10**15)) for _ in range(n)]
        orders = [rng.choice(plain + (awkward if case % 2 else [])) for _ in range(n)]
        expected = json.dumps([{"msgId": i, "number": m, "orderId": o} for i, m, o in zip(ids.tolist(), numbers, orders)],
                              ensure_ascii=False, separators=(",", ":"))
        assert _items_json(ids, numbers, orders) == expected


def reference_flags(appends):
    """Duplicate flags as a per-row loop over the appends in order: seen before in the same scope."""
    seen, flags = set(), []
    for groups in appends:
        for scope, recipients in groups:
            for r in recipients:
                flags.append((scope, r) in seen)
                seen.add((scope, r))
    return flags


def random_appends(rng, n):
    appends = []
    for _ in range(n):
        groups = [(rng.choice(["a", "b", "c"]), [f"9185{rng.randrange(40):07d}" for _ in range(rng.randrange(1, 6))])
                  for _ in range(rng.randrange(1, 4))]
        appends.append(groups)
    return appends


def append(ledger, groups):
    rows = sum(len(r) for _, r in groups)
    ledger.append_groups("sms", [Group(list(r), content=c) for c, r in groups], msg_ids=[str(i) for i in range(rows)],
                         submit_at=1.0, deliver_at=[2.0] * rows, outcomes=["delivered"] * rows,
                         reasons=["success"] * rows, app_id="app")


def test_duplicate_flags_are_worked_out_when_first_read_in_append_order():
    rng = random.Random(3)
    appends = random_appends(rng, 60)
    ledger = Ledger(clock=lambda: 10.0)
    for groups in appends[:30]:
        append(ledger, groups)
    assert ledger.channels["sms"].seen == {}  # answering requests did no duplicate work
    expected = reference_flags(appends)
    assert ledger.frame("sms")["duplicate"].tolist() == expected[:len(ledger.channels["sms"])]
    for groups in appends[30:]:  # later appends are flagged against everything before them
        append(ledger, groups)
    assert ledger.frame("sms")["duplicate"].tolist() == expected
    assert ledger.duplicate_count("sms") == sum(expected) > 0
    assert [ledger.row("sms", i)["duplicate"] for i in range(len(expected))] == expected


def test_readers_settling_while_requests_append_get_the_flags_of_the_append_order():
    rng = random.Random(8)
    appends = random_appends(rng, 400)
    ledger, state_lock, order = Ledger(clock=lambda: 10.0), threading.Lock(), []
    todo = iter(appends)
    counts = []

    def writer():
        while True:
            with state_lock:  # writers hold the state lock, as the request handlers do
                groups = next(todo, None)
                if groups is None:
                    return
                append(ledger, groups)
                order.append(groups)

    def reader():
        for _ in range(200):
            counts.append(ledger.duplicate_count("sms"))

    errors = []

    def run(fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a thread's error must fail the test, not just warn
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in [writer] * 4 + [reader] * 4]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns inside settle and append, not only between calls
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    expected = reference_flags(order)
    assert errors == []
    assert ledger.frame("sms")["duplicate"].tolist() == expected
    assert max(counts) <= sum(expected) == ledger.duplicate_count("sms")
