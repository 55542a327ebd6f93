"""A pure-Python MQTT broker (amqtt) for the demo, when Mosquitto is not installed.

Run as its own process: ``python -m motcua.embedded_broker --port 1883``. It keeps
everything in memory; a real site uses Mosquitto on the hub (systemd/mosquitto/).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from .errors import require


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def serve(host: str, port: int) -> None:
    broker_module = require("amqtt.broker", "demo")
    broker = broker_module.Broker(broker_config(host, port))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(options.host, options.port))


if __name__ == "__main__":
    main()
