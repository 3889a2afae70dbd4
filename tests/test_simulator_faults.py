"""Simulator: injected faults, the control API, report pushes, the child process, the CLI banner, layering."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from buka_nb.signing import auth_headers
from buka_nb.catalog import lookup
from buka_nb.simulator import DeliveryModel, Fault, Simulator, SimulatorProcess
from buka_nb.simulator.launch import banner

ALL_DELIVERED = DeliveryModel(delivered=1.0, failed=0.0, slow=0.0)
HTTP = httpx.Client(timeout=10)  # one client: building an SSL context per call costs ~30 ms


@pytest.fixture(autouse=True, scope="module")
def _close_http():
    yield
    HTTP.close()  # its kept-alive connections to simulators that have stopped


def send(sim: Simulator, numbers: str = "918500000001", *, timeout: float = 10.0) -> httpx.Response:
    creds = sim.credentials
    headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(sim.now()))
    body = {"appId": creds.sms_app_id, "numbers": numbers, "content": "hello"}
    return HTTP.post(sim.url + "/sendSms", json=body, headers=headers, timeout=timeout)


def test_http_error_at_an_exact_request_number():
    with Simulator(faults=["http500,endpoint=sendSms,n=2", "http503,endpoint=getBalance"]) as sim:
        assert send(sim).status_code == 200
        second = send(sim, "918500000002")
        assert second.status_code == 500
        assert send(sim, "918500000003").json()["status"] == "0"
        assert sim.ledger.frame("sms")["recipient"].tolist() == ["918500000001", "918500000003"]
        stats = sim.stats()
        assert stats["endpoints"]["sendSms"]["codes"] == {"0": 2, "http500": 1}
        assert stats["faults"] == {"http500": 1}


def test_reset_before_processing_leaves_no_trace():
    with Simulator(faults=[Fault("reset_before", endpoint="sendSms", requests=(1,))]) as sim:
        with pytest.raises(httpx.TransportError):
            send(sim)
        assert sim.ledger.count("sms") == 0
        assert send(sim).json()["status"] == "0"


def test_reset_after_processing_keeps_the_message():
    with Simulator(faults=["reset_after,endpoint=sendSms,n=1"]) as sim:
        with pytest.raises(httpx.TransportError):
            send(sim)
        assert sim.ledger.count("sms", "918500000001") == 1  # accepted although never answered
        send(sim)  # the client's blind resend
        assert len(sim.ledger.duplicates("sms")) == 1
        assert sim.stats()["duplicates"]["sms"] == 1


def test_latency_and_slow_answers():
    with Simulator(latency=0.15, faults=["slow=1.0,endpoint=sendSms,n=2"]) as sim:
        started = time.perf_counter()
        assert send(sim).json()["status"] == "0"
        assert time.perf_counter() - started >= 0.15
        with pytest.raises(httpx.ReadTimeout):
            send(sim, "918500000002", timeout=0.5)
        assert sim.ledger.count("sms", "918500000002") == 1  # processed before the slow answer


def test_latency_counts_from_arrival_and_the_request_is_processed_within_it():
    """The latency is time on the wire: the ledger has the message while its answer is still due."""
    answers: list[httpx.Response] = []
    errors: list[Exception] = []

    def call() -> None:
        creds = sim.credentials
        headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(sim.now()))
        body = {"appId": creds.sms_app_id, "numbers": "918500000001", "content": "hello"}
        with httpx.Client(timeout=120) as own:  # its own connection, closed however the call ends
            try:
                answers.append(own.post(sim.url + "/sendSms", json=body, headers=headers))
            except httpx.HTTPError as exc:  # the simulator stops before the answer is due
                errors.append(exc)

    with Simulator(latency=60.0) as sim:  # an answer a minute away: no machine is that slow to process one
        thread = threading.Thread(target=call)
        thread.start()
        deadline = time.monotonic() + 30
        while sim.ledger.count("sms") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.ledger.count("sms", "918500000001") == 1
        assert thread.is_alive() and not answers  # processed, not yet answered
    thread.join(30)  # stopping cut the wait short: the answer came then, or the connection closed
    assert not thread.is_alive() and len(answers) + len(errors) == 1


@pytest.mark.parametrize(("spec", "code"), [("throttle", "-15"), ("skew", "-16"), ("code=-12", "-12"),
                                            ("platform", "-18")])
def test_business_faults(spec, code):
    with Simulator(faults=[spec + ",endpoint=sendSms,n=1"]) as sim:
        assert send(sim).json()["status"] == code
        assert sim.ledger.count("sms") == 0
        assert send(sim).json()["status"] == "0"


def test_business_faults_use_each_channels_code():
    with Simulator(faults=["skew,endpoint=email/*", "throttle,endpoint=aivoice/*"]) as sim:
        creds = sim.credentials
        headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(sim.now()))
        mail = HTTP.post(sim.url + "/email/sendEmail", json={}, headers=headers).json()
        voice = HTTP.post(sim.url + "/AiVoice/taskList", json={}, headers=headers).json()
        assert (mail["status"], voice["status"], voice["data"]) == ("-6", "-47", None)


def test_rate_limit_is_a_one_second_sliding_window_of_accepted_requests():
    from buka_nb.simulator.config import Fault, FaultPlan

    plan = FaultPlan([Fault("rate", value=2)])
    at = [100.0, 100.1, 100.2, 100.9, 101.05, 101.11, 101.2]
    assert [bool(plan.pick("sendSms", now)) for now in at] == [False, False, True, True, False, False, True]


def test_rate_limit_answers_minus_15():
    with Simulator(rate_limit=2) as sim:
        answers = [send(sim, "918500000000").json(), send(sim, "918500000001").json()]
        while answers[-1]["status"] == "0" and len(answers) < 50:  # the window is a second: it fills at once
            answers.append(send(sim, f"9185000001{len(answers):02d}").json())
        assert [a["status"] for a in answers[:2]] == ["0", "0"]
        assert answers[-1]["status"] == "-15" and answers[-1]["reason"] == lookup("sms", -15).reason
        assert sim.ledger.count("sms") == len(answers) - 1  # the refused request was not sent


def test_probabilistic_faults_are_reproducible():
    def pattern(seed: int) -> list[int]:
        with Simulator(seed=seed, faults=["http502,p=0.5"]) as sim:
            return [send(sim, f"9185000000{i:02d}").status_code for i in range(20)]

    first = pattern(3)
    assert first == pattern(3)
    assert set(first) == {200, 502}


def test_balance_running_out_partway():
    with Simulator(balance=0.025) as sim:
        assert [send(sim, f"91850000000{i}").json()["status"] for i in range(3)] == ["0", "0", "-10"]


def test_control_api_over_http():
    with Simulator(report_delay=(30, 30), delivery=ALL_DELIVERED) as sim:
        base = sim.base + "/_sim"
        assert HTTP.get(base + "/health").json() == {"ok": True, "url": sim.url}
        assert HTTP.post(base + "/config", json={"faults": ["http500,n=1"], "balance": 5}).json() == {"ok": True}
        assert send(sim).status_code == 500
        assert send(sim).json()["status"] == "0"
        assert sim.stats()["balances"][sim.account.api_key] == "4.990000"
        csv_text = HTTP.get(base + "/ledger", params={"channel": "sms"}).text
        assert csv_text.splitlines()[0].startswith("channel,request_no,app_id")
        assert csv_text.splitlines()[1].split(",")[-1] == "pending"
        before = sim.now()
        now = HTTP.post(base + "/advance", json={"seconds": 31}).json()["now"]
        assert now - before >= 31
        line = json.loads(HTTP.get(base + "/ledger", params={"format": "jsonl"}).text.splitlines()[0])
        assert (line["recipient"], line["state"], line["duplicate"]) == ("918500000001", "delivered", False)
        stats = HTTP.get(base + "/stats").json()
        assert (stats["requests_total"], stats["messages"]["sms"]) == (2, 1)
        assert HTTP.post(base + "/config", json={"nonsense": 1}).status_code == 400
        assert HTTP.post(base + "/reset").json() == {"ok": True}
        assert sim.ledger.count("sms") == 0 and sim.stats()["balances"][sim.account.api_key] == "1000.000000"
        assert send(sim).json()["status"] == "0"  # the configured fault is gone after reset


class Receiver:
    """A tiny push receiver on loopback that records every JSON body."""

    def __init__(self) -> None:
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dlr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_push_dlr_once_when_final():
    receiver = Receiver()
    try:
        with Simulator(report_delay=(100, 100), push_url=receiver.url, delivery=ALL_DELIVERED) as sim:
            creds = sim.credentials
            headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(sim.now()))
            body = {"appId": creds.sms_app_id, "numbers": "918500000001,447700900123", "content": "x" * 200,
                    "orderId": "o1,o2"}
            ids = [i["msgId"] for i in HTTP.post(sim.url + "/sendSms", json=body, headers=headers).json()["array"]]
            assert sim.flush_pushes() == 0 and receiver.bodies == []  # nothing final yet
            sim.advance(101)
            sim.flush_pushes()  # pushes what is due and waits for any the push thread has in flight
            assert sorted(b["msgid"] for b in receiver.bodies) == sorted(ids)  # each exactly once
            dlr = next(b for b in receiver.bodies if b["mobile"] == "918500000001")
            assert dlr == {"appId": creds.sms_app_id, "orderId": "o1", "msgid": ids[0], "mobile": "918500000001",
                           "status": 0, "reason": "success", "timestamp": dlr["timestamp"], "mcc": "404",
                           "mnc": "-1", "pricedetail": {"pay": "0.02", "chargeCnt": 2, "currency": "EUR",
                                                        "price": "0.01"}}
            assert isinstance(dlr["timestamp"], int) and dlr["timestamp"] > 10**12
            assert sim.stats()["pushes"]["sent"] == 2
    finally:
        receiver.close()


def test_voice_push_of_call_reports():
    receiver = Receiver()
    try:
        with Simulator(voice_push_url=receiver.url) as sim:
            creds = sim.credentials
            headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(sim.now()))
            app = creds.voice_app_id
            post = lambda path, body: HTTP.post(sim.url + path, json=body, headers=headers).json()  # noqa: E731
            job = post("/AiVoice/taskAdd", {"appId": app, "name": "t", "dialogFlowId": 1, "mode": "MANUAL",
                                            "dailyStartDateTime": "09:00", "dailyEndDateTime": "20:00",
                                            "robotCount": 2, "jobPhoneNumberId": 2, "redial": False})["data"]
            post("/AiVoice/importCustomer", {"appId": app, "jobId": job, "customerPersons": [
                {"name": "Ann", "phoneNumber": "91856321412", "properties": {"k": "v"}}]})
            post("/AiVoice/taskStart", {"appId": app, "jobId": job})
            sim.advance(600)
            sim.flush_pushes()
            (report,) = receiver.bodies
            assert (report["robotCallJobId"], report["calledPhoneNumber"], report["properties"]) == \
                (job, "91856321412", {"k": "v"})
            assert report["callee"] == "91856321412" and isinstance(report["hangupTime"], int)
    finally:
        receiver.close()


def test_simulator_process_start_stop_and_control():
    with SimulatorProcess(seed=4, report_delay=(0, 0), faults=["http503,endpoint=getBalance,n=1"]) as proc:
        assert proc.running and proc.url.startswith("http://127.0.0.1:")
        creds = proc.credentials
        headers = auth_headers(creds.api_key, creds.api_secret.reveal(), int(proc.stats()["now"]))
        assert HTTP.get(proc.url + "/getBalance", headers=headers).status_code == 503
        body = {"appId": creds.sms_app_id, "numbers": "918500000001,918500000002", "content": "hi"}
        assert HTTP.post(proc.url + "/sendSms", json=body, headers=headers).json()["success"] == "2"
        frame = proc.ledger_frame("sms")
        assert frame["recipient"].tolist() == ["918500000001", "918500000002"]
        assert str(frame["submitted_at"].dtype) == "datetime64[ns, UTC]"
        assert proc.stats()["messages"]["sms"] == 2
        proc.reset()
        assert proc.stats()["messages"]["sms"] == 0
    assert proc.stop() is None and not proc.running


def test_banner_never_prints_a_real_secret(monkeypatch):
    with Simulator() as sim:
        monkeypatch.delenv("BUKA_API_KEY", raising=False)
        assert "export BUKA_BASE_URL=" + sim.url in banner(sim)
    monkeypatch.setenv("BUKA_API_KEY", "realKey9")
    monkeypatch.setenv("BUKA_API_SECRET", "very-real-secret-42")
    with Simulator() as sim:
        text = banner(sim)
        assert "very-real-secret-42" not in text
        assert "(from BUKA_API_SECRET)" in text and "export BUKA_API_KEY=realKey9" in text
    monkeypatch.delenv("BUKA_API_KEY")
    monkeypatch.delenv("BUKA_API_SECRET")
    with Simulator() as sim:
        assert "export BUKA_API_SECRET=demoSecret1" in banner(sim)


def test_simulator_depends_only_on_the_pure_layer():
    allowed = {"signing", "catalog", "credentials", "envelope", "segments", "errors"}
    package = Path(__file__).resolve().parents[1] / "buka_nb" / "simulator"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert (node.module or "").split(".")[0] in allowed, f"{path.name} imports ..{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("buka_nb"):
                pytest.fail(f"{path.name} imports {node.module} absolutely")
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("buka_nb") for a in node.names), path.name


def test_push_gives_up_after_retries_when_nobody_listens():
    with socket.socket() as probe:  # a port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/dlr"
    with Simulator(report_delay=(0, 0), push_url=dead, push_retries=1) as sim:
        assert send(sim).json()["status"] == "0"
        sim.flush_pushes()
        pushes = sim.stats()["pushes"]
        assert (pushes["sent"], pushes["failed"], pushes["in_flight"]) == (0, 1, 0)


def test_cli_serves_until_interrupted():
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUKA_")}
    proc = subprocess.Popen([sys.executable, "-m", "buka_nb", "simulator", "--port", "0", "--seed", "3"],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        url = lines[0].split()[4]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v3")
        assert f"export BUKA_BASE_URL={url}\n" in [line.lstrip() for line in lines]
        assert HTTP.get(url[:-3] + "/_sim/health").json()["ok"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.stdout.close()


def test_fault_counters_survive_unrelated_configuration():
    with Simulator(faults=["http500,endpoint=sendSms,n=2"]) as sim:
        assert send(sim).status_code == 200
        sim.configure(balance=50, report_delay=(0, 1))  # not a fault change: still "the 2nd call"
        assert send(sim).status_code == 500
        sim.configure(faults=["http500,endpoint=sendSms,n=1"])  # new faults count from now
        assert send(sim).status_code == 500
