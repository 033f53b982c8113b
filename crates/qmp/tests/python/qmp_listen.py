"""qemu.qmp's legacy client in server mode: ironide connects to it
(`-qmp unix:PATH`, client mode). Usage: qmp_listen.py SOCKET."""
import sys

from qemu.qmp.legacy import QEMUMonitorProtocol

qmp = QEMUMonitorProtocol(sys.argv[1], server=True)
greeting = qmp.accept(timeout=20)
assert "QMP" in greeting, greeting
r = qmp.cmd("query-status")
assert r["running"], r
qmp.close()
print("ok")
