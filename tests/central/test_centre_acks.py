"""The centre acknowledges a batch in one write (Link.ack_all): on a real Mosquitto, what
was acknowledged is not delivered again, what was not comes back to the next session."""

from __future__ import annotations

import queue

from rig import Listener, next_of

from motcua.config import BrokerSettings
from motcua.mqtt import Inbound, Link, LinkUp, Session, ThreadedLink
from motcua.protocol import Topics

TOPIC = "motcua/xa-a/history/event"


def test_a_batch_acknowledged_in_one_write_is_not_delivered_again(broker) -> None:
    sender = Listener(broker.url, "unused/#")
    inbox: queue.Queue = queue.Queue()
    settings = BrokerSettings(host="127.0.0.1", port=broker.port, tls=False, username=None,
                              password_file=None, ca_file=None, keepalive=30)

    def connect() -> Link:
        link = ThreadedLink(settings, Topics("centre"), role="central", device="main", inbox=inbox,
                            subscriptions=[(TOPIC, 1)], session=Session.KEPT_UNTIL_ACKED)
        link.start()
        assert link.connected.wait(10)
        return link

    first = connect()
    next_of(inbox, LinkUp)
    for n in range(6):
        sender.publish(TOPIC, f"{n}".encode())
    received = [next_of(inbox, Inbound) for _ in range(6)]
    assert [m.payload for m in received] == [b"0", b"1", b"2", b"3", b"4", b"5"]
    first.ack_all(received[:4])                      # committed: four PUBACKs in one packet
    # The broker reads a connection in order: once it acknowledges a publish sent after
    # them, it has had the PUBACKs.
    after = first.publish("unused/after", b"", qos=1)
    after.wait_for_publish(10)
    assert after.is_published()
    first.client.loop_stop()                         # a crash before the rest is committed
    first.client.socket().close()

    second = connect()
    again = []
    while len(again) < 2:
        item = inbox.get(timeout=10)
        if isinstance(item, Inbound):
            again.append(item)
    assert sorted(m.payload for m in again) == [b"4", b"5"]
    second.ack_all(again)
    second.stop()

    third = connect()
    sender.publish(TOPIC, b"7")
    assert next_of(inbox, Inbound).payload == b"7"   # nothing else comes back
    third.stop()
    sender.close()


def test_a_message_of_an_earlier_connection_is_not_acknowledged_on_a_later_one(broker) -> None:
    # A mid is the connection's: on a new session the broker may give it to another message,
    # not yet committed. The broker sends the old one again; its copy is acknowledged then.
    sender = Listener(broker.url, "unused/#")
    inbox: queue.Queue = queue.Queue()
    settings = BrokerSettings(host="127.0.0.1", port=broker.port, tls=False, username=None,
                              password_file=None, ca_file=None, keepalive=30)

    def connect() -> Link:
        link = ThreadedLink(settings, Topics("centre"), role="central", device="main", inbox=inbox,
                            subscriptions=[(TOPIC, 1)], session=Session.KEPT_UNTIL_ACKED)
        link.start()
        assert link.connected.wait(10)
        return link

    first = connect()
    next_of(inbox, LinkUp)
    sender.publish(TOPIC, b"0")
    old = next_of(inbox, Inbound)
    first.client.socket().close()                    # the connection drops; paho reconnects
    copy = next_of(inbox, Inbound)                   # the broker sends it again on this one
    assert copy.payload == b"0"
    first.ack_all([old])                             # committed late: of the connection before
    first.ack(old)
    after = first.publish("unused/after", b"", qos=1)
    after.wait_for_publish(10)
    assert after.is_published()
    first.client.loop_stop()                         # a crash: the copy was never acknowledged
    first.client.socket().close()

    second = connect()
    again = next_of(inbox, Inbound)
    assert again.payload == b"0"                     # so it comes back
    second.ack_all([again])
    second.stop()

    third = connect()
    sender.publish(TOPIC, b"1")
    assert next_of(inbox, Inbound).payload == b"1"   # acknowledged on its own connection
    third.stop()
    sender.close()
    assert copy.connection == old.connection + 1
