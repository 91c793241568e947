#!/usr/bin/env python3
"""A partner system reading Jigi's events as JSON, with nats-py.

It logs in to the national hub with the partner's own user, pulls from the
partner's durable consumer on the stream JIGI_JSON (created by an operator:
`jigi-partners add <user> --json`), prints one line per event and acks it.
The server remembers what was acked: stopped and started again, it goes on
where it stopped. Each event is a CloudEvent in structured JSON; `data` is
the payload in the proto3 JSON mapping (64-bit integers are strings).

    pip3 install -r examples/python/requirements.txt
    JIGI_PARTNER_PASSWORD=... python3 examples/python/subscriber.py \\
        --url nats://hub.jigi.example:4222 --user partner_donor --count 10

With --core SUBJECT it subscribes to live subjects instead (no durable
consumer, nothing replayed, nothing acked), e.g. --core 'jigijson.*.payments.>'.

Exit status: 0 after --count events (or on Ctrl-C), 2 when no event came
for --timeout seconds, 1 when the hub cannot be reached or refuses.
"""

import argparse
import asyncio
import json
import os
import sys

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError


def parse_args():
    parser = argparse.ArgumentParser(description="Print Jigi's events as a partner receives them.")
    parser.add_argument("--url", default=os.environ.get("JIGI_NATS_URL", "nats://127.0.0.1:4222"),
                        help="the national hub (env JIGI_NATS_URL)")
    parser.add_argument("--user", default=os.environ.get("JIGI_PARTNER_USER", "partner_donor"),
                        help="the partner's NATS user (env JIGI_PARTNER_USER)")
    parser.add_argument("--password-file", help="a file holding the password (else env JIGI_PARTNER_PASSWORD)")
    parser.add_argument("--stream", default="JIGI_JSON", help="the stream of the partner's consumer")
    parser.add_argument("--consumer", help="the durable consumer (default: the user's name)")
    parser.add_argument("--core", metavar="SUBJECT", help="subscribe to live subjects instead, e.g. 'jigijson.>'")
    parser.add_argument("--count", type=int, default=0, help="exit after this many events (0: never)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="exit with status 2 after this many seconds without an event")
    parser.add_argument("--batch", type=int, default=100, help="events fetched per request")
    return parser.parse_args()


def password(args):
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as file:
            return file.read().strip()
    return os.environ.get("JIGI_PARTNER_PASSWORD", "")


def describe(nats_subject, event):
    """One line: type, region and the key fields of the event."""
    # Subjects are jigijson.<region>.<service>.<entity>.<action>.
    tokens = nats_subject.split(".")
    region = tokens[1] if len(tokens) > 1 else "?"
    kind = event.get("type", "?")
    data = event.get("data")
    if data is None:
        # A type newer than the mirror: the payload is protobuf, base64.
        return f"{kind} region={region} subject={event.get('subject', '')} (protobuf payload, not decoded)"
    location = data.get("location") or {}
    if kind.startswith("jigi.registry.household.registered."):
        pmt = data.get("pmt") or {}
        fields = (f"household={data.get('householdId')} commune={location.get('commune')} "
                  f"members={len(data.get('members', []))} pmt_eligible={str(pmt.get('eligible', False)).lower()}")
    elif kind.startswith("jigi.registry.household.enrolled."):
        fields = f"household={data.get('householdId')} component={data.get('component')}"
    elif kind.startswith("jigi.payments.payment."):
        cycle = data.get("cycle") or {}
        amount = (data.get("amount") or {}).get("fcfa", "0")
        fields = (f"household={data.get('householdId')} cycle={cycle.get('cycleId')} amount={amount} FCFA "
                  f"channel={data.get('channel')} agent={data.get('agentCode')}")
    elif kind.startswith("jigi.nutrition.ration.distributed."):
        fields = (f"member={data.get('memberId')} household={data.get('householdId')} group={data.get('group')} "
                  f"grams={data.get('grams')} warehouse={data.get('warehouseId')} "
                  f"stock_on_hand_grams={data.get('stockOnHandGrams')}")
    else:
        fields = f"subject={event.get('subject', '')}"
    return f"{kind} region={region} {fields} id={event.get('id')}"


def show(msg):
    event = json.loads(msg.data)
    print(describe(msg.subject, event), flush=True)


async def pull(nc, args):
    """Fetch from the durable consumer; ack each event after printing it."""
    js = nc.jetstream()
    consumer = args.consumer or args.user
    # Bind to the existing consumer: the partner may not create one.
    sub = await js.pull_subscribe_bind(consumer, stream=args.stream, inbox_prefix=f"_INBOX_{args.user}.".encode())
    seen = 0
    idle = 0.0
    while args.count == 0 or seen < args.count:
        wanted = args.batch if args.count == 0 else min(args.batch, args.count - seen)
        wait = min(5.0, max(args.timeout - idle, 0.1))
        try:
            messages = await sub.fetch(wanted, timeout=wait)
        except NatsTimeout:
            idle += wait
            if idle >= args.timeout:
                print(f"subscriber: no event for {args.timeout:g} s ({seen} received)", file=sys.stderr)
                return 2
            continue
        idle = 0.0
        for msg in messages:
            show(msg)
            await msg.ack()
            seen += 1
    return 0


async def core(nc, args):
    """Live subjects only: what is published while connected."""
    sub = await nc.subscribe(args.core)
    seen = 0
    while args.count == 0 or seen < args.count:
        try:
            msg = await sub.next_msg(timeout=args.timeout)
        except NatsTimeout:
            print(f"subscriber: no event for {args.timeout:g} s ({seen} received)", file=sys.stderr)
            return 2
        show(msg)
        seen += 1
    return 0


async def main():
    args = parse_args()

    async def error(err):
        # Permission violations and connection trouble, as the hub says them.
        print(f"subscriber: {err}", file=sys.stderr)

    try:
        nc = await nats.connect(
            args.url,
            user=args.user,
            password=password(args),
            name=f"jigi-partner-{args.user}",
            # The partner's user may read replies only on its own inbox prefix.
            inbox_prefix=f"_INBOX_{args.user}",
            error_cb=error,
            connect_timeout=10,
            max_reconnect_attempts=-1,
        )
    except Exception as err:  # noqa: BLE001 - any failure to connect ends the program
        print(f"subscriber: cannot connect to {args.url}: {err}", file=sys.stderr)
        return 1
    try:
        return await (core(nc, args) if args.core else pull(nc, args))
    except NotFoundError:
        print(f"subscriber: {args.stream} has no consumer {args.consumer or args.user}; "
              f"ask an operator: jigi-partners add {args.user} --json", file=sys.stderr)
        return 1
    finally:
        try:
            await nc.drain()
        except Exception:  # noqa: BLE001 - closing after an error
            pass


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
