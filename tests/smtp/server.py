"""A real SMTP server on loopback for tests/it/mail.rs (aiosmtpd).

Usage: python3 server.py PORT DIR [DELAY]. Each message received is written to DIR as one JSON
file (envelope recipients, decoded subject, Message-ID, plain and HTML parts); prints
"ready" once it listens and stops when its stdin closes. DELAY (seconds) makes it a slow
sink: it waits that long before accepting each message, having written a ".receiving"
mark into DIR as the message's data arrived.
"""
import asyncio
import email
import email.policy
import json
import os
import sys
import time

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, folder, delay):
        self.folder = folder
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            # The message is on its way: a mark for tests that need a mail in flight.
            mark = os.path.join(self.folder, f"{time.time_ns():020d}-{os.getpid()}.receiving")
            open(mark, "w").close()
            await asyncio.sleep(self.delay)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "text": text.get_content() if text else "",
            "html": html.get_content() if html else "",
        }
        self.count += 1
        # Named by arrival time first: the files of a restarted server (another pid, which
        # may have fewer digits) still sort after the earlier ones.
        path = os.path.join(
            self.folder, f"{time.time_ns():020d}-{os.getpid()}-{self.count:06d}.json"
        )
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Handler(folder, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
