"""What every mlplatform component shares: a type token, and children named from the instance."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi


class PlatformComponent(pulumi.ComponentResource):
    """A ComponentResource whose children are named ``<instance name>-<suffix>``.

    Two instances with different names therefore never collide. ``DEFAULT_NAME``
    is the name the platform gives its instance; ``legacy`` maps a child to the
    name an earlier release gave it, as a Pulumi alias on that instance only,
    so a deployed stack keeps its resources (and generated secrets) instead of
    replacing them.
    """

    TYPE: ClassVar[str]
    DEFAULT_NAME: ClassVar[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None, was: str | None = None):
        aliases = [pulumi.Alias(name=was)] if was and name == self.DEFAULT_NAME else None
        super().__init__(
            self.TYPE, name, None, pulumi.ResourceOptions.merge(pulumi.ResourceOptions(aliases=aliases), opts)
        )
        self.name = name

    def child_name(self, suffix: str = "") -> str:
        return f"{self.name}-{suffix}" if suffix else self.name

    def legacy(self, old_name: str) -> str | None:
        """``old_name`` for the platform's own instance (deployed stacks know it by that name), else None."""
        return old_name if self.name == self.DEFAULT_NAME else None

    def child_opts(self, was: str | None = None, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented here, aliased to ``was`` when an earlier release named it so."""
        aliases = [pulumi.Alias(name=was)] if was else None
        return pulumi.ResourceOptions(parent=self, aliases=aliases, **options)
