#!/usr/bin/env python3
"""The scripted customer of `scripts/quickstart.sh --check`.

Logs in as the quickstart's customer on the local Synapse, opens a direct
chat with the bot, asks an FAQ question and expects the FAQ answer, asks
for a person and expects the handover, and checks that the agent was
invited into the case room. Exits 0 on success, 1 with the reason.
Standard library only (any Python 3.10+).

Usage: quickstart_check.py URL CUSTOMER_PASSWORD AGENT_PASSWORD
"""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BOT = "@helper:localhost"
TIMEOUT = 60.0


class Failed(Exception):
    pass


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise Failed(f"{method} {path}: HTTP {e.code}: {e.read()[:300]!r}") from e


def login(base, user, password):
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    return call(base, "POST", "/_matrix/client/v3/login", body=body)["access_token"]


def wait(what, check):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise Failed(f"timed out after {TIMEOUT:.0f} s waiting for {what}")


def room_path(room, rest):
    return f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/{rest}"


def bot_messages(base, token, room):
    page = call(base, "GET", room_path(room, "messages?dir=b&limit=100"), token)
    return [
        e["content"].get("body", "")
        for e in page.get("chunk", [])
        if e.get("sender") == BOT and e.get("type") == "m.room.message"
    ]


def send(base, token, room, text):
    txn = f"qs{time.time_ns()}"
    call(
        base,
        "PUT",
        room_path(room, f"send/m.room.message/{txn}"),
        token,
        {"msgtype": "m.text", "body": text},
    )


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    base, customer_pw, agent_pw = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    try:
        customer = login(base, "customer", customer_pw)
        agent = login(base, "agent", agent_pw)
        room = call(
            base,
            "POST",
            "/_matrix/client/v3/createRoom",
            customer,
            {"invite": [BOT], "is_direct": True, "preset": "trusted_private_chat"},
        )["room_id"]
        wait(
            "the bot to join the customer's chat",
            lambda: BOT in call(base, "GET", room_path(room, "joined_members"), customer)["joined"],
        )
        print("customer: the bot joined the chat")

        send(base, customer, room, "how do I reset my password?")
        answer = wait(
            "the FAQ answer about passwords",
            lambda: next((m for m in bot_messages(base, customer, room) if "Reset password" in m), None),
        )
        print(f"customer: FAQ answer: {answer[:70]}...")

        send(base, customer, room, "I want to talk to a person")
        handover = wait(
            "the handover to a person",
            lambda: next((m for m in bot_messages(base, customer, room) if "in line" in m), None),
        )
        print(f"customer: handover: {handover[:70]}...")

        invite = wait(
            "the agent's invitation into the case room",
            lambda: call(base, "GET", "/_matrix/client/v3/sync?timeout=0", agent)
            .get("rooms", {})
            .get("invite"),
        )
        print(f"agent: invited into {len(invite)} case room(s)")
    except (Failed, urllib.error.URLError, KeyError, OSError) as e:
        print(f"quickstart check failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
