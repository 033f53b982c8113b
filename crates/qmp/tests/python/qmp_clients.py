"""Drives an ironide QMP server with PyPI qemu.qmp (legacy and async APIs).

Usage: qmp_clients.py SOCKET. Exits non-zero on any mismatch.
"""
import asyncio
import sys

from qemu.qmp import EventListener, ExecuteError, QMPClient
from qemu.qmp.legacy import QEMUMonitorProtocol

path = sys.argv[1]


def legacy():
    qmp = QEMUMonitorProtocol(path)
    greeting = qmp.connect(negotiate=True)
    assert greeting["QMP"]["version"]["qemu"]["major"] == 7, greeting
    r = qmp.cmd("query-status")
    assert r == {"status": "running", "running": True}, r
    r = qmp.cmd_raw("query-status")
    assert r == {"return": {"status": "running", "running": True}}, r
    assert qmp.cmd("blockdev-open-tray", id="cd0") == {}
    ev = qmp.get_events(wait=True)
    assert any(e["event"] == "DEVICE_TRAY_MOVED" and e["data"]["tray-open"] for e in ev), ev
    r = qmp.cmd_raw("blockdev-del", {})
    assert r["error"] == {"class": "GenericError", "desc": "Parameter 'node-name' is missing"}, r
    r = qmp.cmd_raw("nosuch")
    assert r["error"]["class"] == "CommandNotFound", r
    r = qmp.cmd_obj({"execute": "query-name", "id": "abc"})
    assert r == {"return": {}, "id": "abc"}, r
    # cmd() raises on error replies.
    try:
        qmp.cmd("blockdev-close-tray", device="x", id="y")
        raise AssertionError("expected an error")
    except AssertionError:
        raise
    except Exception as e:  # QMPResponseError
        assert "Need exactly one of 'device' and 'id'" in str(e), e
    qmp.cmd("blockdev-close-tray", id="cd0")
    qmp.close()


async def modern():
    qmp = QMPClient("ironide-test")
    await qmp.connect(path)
    assert await qmp.execute("query-name") == {}
    commands = await qmp.execute("query-commands")
    assert {"name": "blockdev-change-medium"} in commands
    try:
        await qmp.execute("block_set_io_throttle", {"id": "cd0", "bps": 10, "bps_rd": 1, "bps_wr": 0,
                                                    "iops": 0, "iops_rd": 0, "iops_wr": 0})
        raise AssertionError("expected an error")
    except ExecuteError as e:
        assert e.error_class == "GenericError", e.error_class
        assert e.error.error.desc == "bps/iops/max total values and read/write values cannot be used at the same time"
    listener = EventListener()
    with qmp.listen(listener):
        await qmp.execute("system_reset")
        ev = await asyncio.wait_for(listener.get(), 10)
        assert ev["event"] == "RESET" and ev["data"]["reason"] == "host-qmp-system-reset", ev
        assert isinstance(ev["timestamp"]["seconds"], int)
    # Back-to-back commands (the client pipelines them without newlines).
    results = await asyncio.gather(*(qmp.execute("query-status") for _ in range(20)))
    assert all(r["running"] for r in results)
    await qmp.execute("quit")
    await qmp.disconnect()


legacy()
asyncio.run(modern())
print("ok")
