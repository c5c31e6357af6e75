"""Airbyte 0.63.19, the last release Airbyte shipped with a Docker (compose) deployment.

The topology follows upstream's ``docker-compose.yaml``/``.env`` of the
0.63 line (airbytehq/airbyte-platform, fetched by ``run-ab-platform.sh``):
bootloader (one-shot migrations), airbyte-temporal, server (config API and,
since 0.58, the public API under ``/api/public``), worker, cron,
connector-builder-server, webapp and the nginx ``airbyte-proxy`` with basic
auth. Deliberate differences from upstream, each explained where it is made:

- ``airbyte/db`` is replaced by the platform's PostgreSQL (roles from
  ``airbyte_consumers()``).
- The Docker socket reaches the worker through a filtering socket proxy
  instead of upstream's unfiltered ``alpine/socat`` relay.
- The basic-auth password is generated (upstream ships airbyte/password).
- Usage tracking is ``logging`` instead of upstream's ``segment``.
- The helper publishes one port per container, so the web (8000) and API
  (8001) listeners are two containers of the same proxy image.

Container aliases are upstream's container names, because the images'
defaults (the proxy's ``PROXY_PASS_*``, Temporal host, server host) use them.
"""


from components.airbyte.component import Airbyte, AirbyteArgs
from components.airbyte.upstream import airbyte_consumers

__all__ = ["Airbyte", "AirbyteArgs", "airbyte_consumers"]
