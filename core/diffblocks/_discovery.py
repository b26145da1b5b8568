"""Finding plugin distributions from entry-point metadata, without importing them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

HOOK_GROUP = "diffblocks"
BLOCK_GROUP = "diffblocks.blocks"
ENV_PLUGINS = "DIFFBLOCKS_PLUGINS"
ENV_STRICT = "DIFFBLOCKS_STRICT_PLUGINS"

_REQUIRES = re.compile(r"^Requires-Dist:[ \t]*diffblocks(?![\w.-])(.*)$", re.MULTILINE | re.IGNORECASE)


def normalize(name: str) -> str:
    """PEP 503 normalisation: ``Diffblocks_Example`` -> ``diffblocks-example``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class PluginInfo:
    """One plugin distribution and what it declares. ``status`` is loaded, failed, disabled,
    incompatible, or pending (found, hooks not yet run)."""

    name: str
    distribution: str
    version: str | None
    status: str = "pending"
    error: str | None = None
    hooks: list[tuple[str, str]] = field(default_factory=list)  # (entry point name, target)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (block name, "module:attr")
    requirement: str | None = None
    exception: BaseException | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
        }


def strict_mode() -> bool:
    return os.environ.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes", "on")


def plugin_filter(raw: str | None = None) -> Callable[[PluginInfo], bool]:
    """The ``DIFFBLOCKS_PLUGINS`` policy: unset = all, empty = none, ``a,b`` = only these,
    ``-a,-b`` = all but these. Names match a distribution or a plugin name."""
    if raw is None:
        raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return lambda info: True
    items = [s.strip() for s in raw.split(",") if s.strip()]
    if not items:
        return lambda info: False
    include = {normalize(s) for s in items if not s.startswith("-")}
    exclude = {normalize(s[1:]) for s in items if s.startswith("-")}

    def allowed(info: PluginInfo) -> bool:
        keys = {normalize(info.distribution), normalize(info.name)}
        if keys & exclude:
            return False
        return not include or bool(keys & include)

    return allowed


def _name_version(dist: Any) -> tuple[str, str | None]:
    # The dist-info folder name carries both (``name-1.0.dist-info``): reading it avoids
    # parsing METADATA, which dominates discovery time with hundreds of plugins.
    path = getattr(dist, "_path", None)
    base = getattr(path, "name", "")
    for suffix in (".dist-info", ".egg-info"):
        if base.endswith(suffix) and "-" in base:
            name, _, version = base[: -len(suffix)].partition("-")
            return normalize(name), version or None
    meta = dist.metadata
    return normalize(meta["Name"] or "unknown"), meta["Version"]


def _requirement(dist: Any) -> str | None:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for match in _REQUIRES.finditer(text):
        spec = match.group(1).strip()
        if "extra" in spec.split(";", 1)[-1] and ";" in spec:
            continue  # only an optional extra needs diffblocks
        return "diffblocks" + spec
    return None


def scan() -> list[PluginInfo]:
    """Every distribution with entry points in the diffblocks groups, in a stable order."""
    try:
        from importlib_metadata import entry_points
    except ImportError:  # pragma: no cover - the dependency is declared
        from importlib.metadata import entry_points  # type: ignore[assignment]

    found: dict[str, PluginInfo] = {}
    eps = entry_points()
    for group in (HOOK_GROUP, BLOCK_GROUP):
        for ep in eps.select(group=group):
            dist = ep.dist
            dist_name, version = _name_version(dist) if dist is not None else ("unknown", None)
            info = found.get(dist_name)
            if info is None:
                info = found[dist_name] = PluginInfo(dist_name, dist_name, version)
                info.requirement = _requirement(dist) if dist is not None else None
            if group == HOOK_GROUP:
                info.hooks.append((ep.name, ep.value))
                if len(info.hooks) == 1:
                    info.name = ep.name
            else:
                info.blocks.append((ep.name, ep.value))
    return [found[k] for k in sorted(found)]


def incompatibility(info: PluginInfo, version: str) -> str | None:
    """Why ``info`` cannot run with diffblocks ``version``, or None."""
    if not info.requirement or info.requirement.strip() == "diffblocks":
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(info.requirement)
    except InvalidRequirement as exc:
        return f"unreadable requirement {info.requirement!r}: {exc}"
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return f"requires {info.requirement} but diffblocks {version} is installed"
    return None
