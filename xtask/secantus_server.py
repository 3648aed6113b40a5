"""Runs a throwaway SecantusDB (MongoDB wire protocol) server for the test matrix.

Usage: python secantus_server.py PORT

Started by `cargo xtask` (xtask/src/mongo.rs) with the Python of a venv that has
`secantusdb==0.7.0b3` installed. The server listens on 127.0.0.1:PORT, keeps
everything in memory and sweeps TTL indexes every second (mongod sweeps every 60 s),
so tests can watch native expiry happen.

It stops on SIGTERM/SIGINT, and also when its stdin reaches end-of-file: xtask holds
the other end of that pipe, so the server never outlives xtask, even if xtask is killed.
"""

import signal
import sys
import threading

from secantus import SecantusDBServer


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: secantus_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    server = SecantusDBServer(
        host="127.0.0.1",
        port=port,
        storage_path=":memory:",
        ttl_sweep_seconds=1,
    )
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    def watch_stdin():
        # Returns at end-of-file: the parent closed the pipe or died.
        sys.stdin.buffer.read()
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(f"secantusdb listening on {server.uri}", flush=True)
    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    # A timed wait keeps the main thread responsive to signals.
    while not done.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
