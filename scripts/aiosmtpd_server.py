#!/usr/bin/env python3
"""aiosmtpd_server.py — an aiosmtpd test server that keeps each message's exact DATA bytes.

Started and stopped by scripts/test-servers.sh (which runs it with the venv made by
scripts/install-test-deps.sh); by hand:

    /opt/smtpt-venv/bin/python scripts/aiosmtpd_server.py --spool DIR \
        --cert CERT.pem --key KEY.pem --port 25254 --tls-port 25255 \
        --user tester --password 'Test-Pa55word'

Listeners, both on 127.0.0.1 only (one process, one asyncio loop):
  --port      plain SMTP with STARTTLS offered; AUTH is only offered and accepted after
              STARTTLS (538 5.7.11 before it).
  --tls-port  implicit TLS (TLS from the first byte, "port 465 style"); AUTH offered at once;
              no STARTTLS.
EHLO advertises SIZE 10485760, 8BITMIME, SMTPUTF8, (STARTTLS), AUTH CRAM-MD5 LOGIN PLAIN.
No PIPELINING, no CHUNKING, no DSN (aiosmtpd answers 555 to RCPT/MAIL parameters it does not
know, e.g. NOTIFY=, ORCPT=, RET=, ENVID=). Authentication is optional for sending.

AUTH PLAIN, LOGIN and CRAM-MD5 are implemented here (aiosmtpd has no CRAM-MD5, and its built-in
LOGIN sends the unusual challenges "User Name\0" / "Password\0"; ours are "Username:" /
"Password:"). Exactly one final reply per AUTH command: 235 2.7.0 on success, 535 5.7.8 on bad
credentials, 501 on malformed base64 or a "*" cancel.

Controlled refusals (same rules as the Postfix test instance), on the address's local part:
  MAIL FROM:<reject...>   -> 550 5.7.1
  RCPT TO:<reject...>     -> 550 5.1.1
  RCPT TO:<tempfail...>   -> 450 4.2.1

Spool format (directory --spool), per accepted message, ID = "<unix-time-ns>-<6-digit counter>":
  ID.eml   the exact DATA bytes as aiosmtpd received them (envelope.original_content): dot-unstuffed,
           CRLF and any lone CR/LF kept as sent, without the final ".\\r\\n" terminator line.
  ID.json  UTF-8 JSON written after ID.eml (atomically, via rename), so ID.json existing means
           ID.eml is complete:
           {"id", "listener": "starttls"|"implicit", "tls": bool, "tls_version": str|null,
            "auth_login": str|null, "helo": str, "peer": [host, port],
            "mail_from": str ("" for the null sender <>), "rcpt_tos": [str, ...],
            "mail_options": [str, ...]   e.g. ["SIZE=123", "BODY=8BITMIME", "SMTPUTF8"]
                                         (aiosmtpd upper-cases them),
            "rcpt_options": [[str, ...], ...]  one list per entry of rcpt_tos, same order,
            "smtp_utf8": bool, "size": int}
The final reply to DATA is "250 2.0.0 Ok: queued as ID", so a test finds its files from it.
"""

import argparse
import asyncio
import base64
import binascii
import hmac
import itertools
import json
import logging
import os
import secrets
import signal
import ssl
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, auth_mechanism

SIZE_LIMIT = 10485760
COUNTER = itertools.count(1)  # shared by both listeners


class SpoolHandler:
    def __init__(self, spool, user, password, listener):
        self.spool = spool
        self.user = user.encode()
        self.password = password.encode()
        self.listener = listener

    # ---- authentication -------------------------------------------------
    def _check(self, login, password):
        ok = hmac.compare_digest(login, self.user) and hmac.compare_digest(password, self.password)
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(login, password))
        return AuthResult(success=False, handled=False)

    @staticmethod
    async def _decode_arg(server, arg):
        """Decode an initial response ("=" is empty). None: a 501 was already sent."""
        if arg == "=":
            return b""
        try:
            return base64.b64decode(arg.encode(), validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Cannot decode base64")
            return None

    @staticmethod
    async def _challenge(server, challenge):
        """Send a 334 challenge and return the decoded answer, or None after a 501 was sent."""
        await server.push(b"334 " + base64.b64encode(challenge))
        line = (await server._reader.readline()).strip()
        if line == b"*":
            await server.push("501 5.7.0 Authentication cancelled")
            return None
        try:
            return base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Cannot decode base64")
            return None

    HANDLED_FAILURE = AuthResult(success=False, handled=True)

    @auth_mechanism("PLAIN")
    async def auth_PLAIN(self, server, args):
        if len(args) == 1:
            data = await self._challenge(server, b"")
        else:
            data = await self._decode_arg(server, args[1])
        if data is None:
            return self.HANDLED_FAILURE
        parts = data.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Malformed PLAIN response")
            return self.HANDLED_FAILURE
        return self._check(parts[1], parts[2])

    @auth_mechanism("LOGIN")
    async def auth_LOGIN(self, server, args):
        if len(args) == 1:
            login = await self._challenge(server, b"Username:")
        else:
            login = await self._decode_arg(server, args[1])
        if login is None:
            return self.HANDLED_FAILURE
        password = await self._challenge(server, b"Password:")
        if password is None:
            return self.HANDLED_FAILURE
        return self._check(login, password)

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, server, args):
        if len(args) != 1:
            await server.push("501 5.5.4 CRAM-MD5 takes no initial response")
            return self.HANDLED_FAILURE
        challenge = f"<{secrets.randbits(64)}.{time.time_ns()}@localhost>".encode()
        answer = await self._challenge(server, challenge)
        if answer is None:
            return self.HANDLED_FAILURE
        login, sep, digest = answer.rpartition(b" ")
        if not sep:
            return AuthResult(success=False, handled=False)
        expected = hmac.new(self.password, challenge, "md5").hexdigest().encode()
        if hmac.compare_digest(login, self.user) and hmac.compare_digest(digest.lower(), expected):
            return AuthResult(success=True, auth_data=LoginPassword(login, b""))
        return AuthResult(success=False, handled=False)

    # ---- envelope -----------------------------------------------------------
    @staticmethod
    def _local(address):
        return address.rsplit("@", 1)[0].lstrip('"').lower()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self._local(address).startswith("reject"):
            return "550 5.7.1 Sender refused (test rule ^reject)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.rcpt_options_per = []
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = self._local(address)
        if local.startswith("reject"):
            return "550 5.1.1 Recipient refused (test rule ^reject)"
        if local.startswith("tempfail"):
            return "450 4.2.1 Recipient temporarily refused (test rule ^tempfail)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.rcpt_options_per.append(list(rcpt_options))
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        msg_id = f"{time.time_ns()}-{next(COUNTER):06d}"
        data = envelope.original_content or b""
        ssl_obj = None
        if session.ssl is not None:
            ssl_obj = session.ssl.get("ssl_object")
        elif server.transport is not None:
            ssl_obj = server.transport.get_extra_info("ssl_object")
        meta = {
            "id": msg_id,
            "listener": self.listener,
            "tls": ssl_obj is not None,
            "tls_version": ssl_obj.version() if ssl_obj is not None else None,
            "auth_login": (session.login_data.decode("utf-8", "replace")
                           if session.authenticated and session.login_data else None),
            "helo": session.host_name,
            "peer": list(session.peer) if session.peer else None,
            "mail_from": "" if envelope.mail_from == "<>" else envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": getattr(envelope, "rcpt_options_per", []),
            "smtp_utf8": bool(envelope.smtp_utf8),
            "size": len(data),
        }
        base = os.path.join(self.spool, msg_id)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.rename(base + ".json.tmp", base + ".json")
        return f"250 2.0.0 Ok: queued as {msg_id}"


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.makedirs(a.spool, exist_ok=True)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)

    loop = asyncio.get_running_loop()
    common = dict(hostname="localhost", enable_SMTPUTF8=True, decode_data=False,
                  data_size_limit=SIZE_LIMIT, ident="aiosmtpd test server")

    starttls_handler = SpoolHandler(a.spool, a.user, a.password, "starttls")
    implicit_handler = SpoolHandler(a.spool, a.user, a.password, "implicit")
    servers = [
        await loop.create_server(
            lambda: SMTP(starttls_handler, tls_context=ctx, require_starttls=False,
                         auth_require_tls=True, **common),
            host=a.host, port=a.port),
        # Implicit TLS: the whole connection is TLS, so AUTH needs no STARTTLS
        # (aiosmtpd only knows about STARTTLS when it checks auth_require_tls).
        await loop.create_server(
            lambda: SMTP(implicit_handler, auth_require_tls=False, **common),
            host=a.host, port=a.tls_port, ssl=ctx),
    ]
    logging.info("listening on %s:%d (STARTTLS) and %s:%d (implicit TLS), spool %s",
                 a.host, a.port, a.host, a.tls_port, a.spool)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()
    for s in servers:
        try:
            await asyncio.wait_for(s.wait_closed(), 3)
        except asyncio.TimeoutError:
            pass
    logging.info("stopped")


if __name__ == "__main__":
    asyncio.run(main())
