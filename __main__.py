"""mlplatform: a self-hosted ML platform on Docker, one Pulumi stack per environment."""

import pulumi

from components.platform import build_platform
from config import load_platform

config = load_platform()
platform = build_platform(config, pulumi.get_project(), pulumi.get_stack())

pulumi.export("endpoints", platform.endpoints)
pulumi.export("credentials", pulumi.Output.secret(platform.credentials))
pulumi.export("checks", platform.checks)
