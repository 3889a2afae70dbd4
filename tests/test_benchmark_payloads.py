"""The benchmark's raw-httpx baseline sends exactly the bodies buka_nb sends (benchmarks/data.py)."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest

from benchmarks import data
from buka_nb.client import AsyncBukaClient
from buka_nb.credentials import Credentials
from buka_nb.sms import send_sms_csv


@pytest.mark.parametrize("n, chunksize, requests", [
    (2_500, 1_000, 3),       # three chunks of under 1,000 valid rows: one request each, never spanning two
    (25_000, 100_000, 25),   # one chunk, planned as a head of 8 requests and the rest: the same requests
])
def test_raw_baseline_bodies_are_byte_for_byte_what_buka_nb_sends(tmp_path, n, chunksize, requests):
    path = tmp_path / "recipients.csv"
    data.write_csv(path, n)
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        body = orjson.loads(request.content)
        items = [{"msgId": str(10 ** 18 + len(sent) * 1000 + k), "number": num, "orderId": order}
                 for g in body["array"] for k, (num, order) in enumerate(zip(g["numbers"].split(","),
                                                                            g["orderId"].split(",")))]
        return httpx.Response(200, json={"status": "0", "reason": "success", "success": str(len(items)),
                                         "fail": "0", "array": items})

    creds = Credentials.demo("http://127.0.0.1:9/v3")
    client = AsyncBukaClient(creds, transport=httpx.MockTransport(answer))
    results = send_sms_csv(path, template=data.TEMPLATE, client=client, journal=None, chunksize=chunksize,
                           max_in_flight=8)
    prefix = re.search(rb'"orderId":"([0-9a-f]{8}-)', sent[0]).group(1).decode()
    expected = data.payloads(n, prefix, chunksize=chunksize)
    assert sorted(sent) == sorted(expected) and len(sent) == len(expected) == requests
    assert (results.state == "accepted").sum() == data.write_csv(tmp_path / "again.csv", n)["valid"]
