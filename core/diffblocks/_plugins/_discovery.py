"""Finding plugin distributions from entry-point metadata, without importing them."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

HOOK_GROUP = "diffblocks"
BLOCK_GROUP = "diffblocks.blocks"
ENV_PLUGINS = "DIFFBLOCKS_PLUGINS"
ENV_STRICT = "DIFFBLOCKS_STRICT_PLUGINS"

_REQUIRES = re.compile(r"^Requires-Dist:[ \t]*diffblocks(?![\w.-])(.*)$", re.MULTILINE | re.IGNORECASE)


def normalize(name: str) -> str:
    """PEP 503 normalisation: ``Diffblocks_Example`` -> ``diffblocks-example``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginStatus(str, Enum):
    """Where a plugin stands. The values are the strings ``plugins list --json`` shows."""

    PENDING = "pending"  # found; hooks not run yet
    LOADED = "loaded"
    FAILED = "failed"
    DISABLED = "disabled"  # turned off by DIFFBLOCKS_PLUGINS; never imported
    INCOMPATIBLE = "incompatible"  # its diffblocks requirement excludes this version; never imported

    def __str__(self) -> str:
        return self.value


@dataclass
class PluginInfo:
    """One plugin distribution and what it declares. ``name`` is its first hook entry point's
    name (or the distribution's); ``status`` compares equal to its string value."""

    name: str
    distribution: str
    version: str | None
    status: PluginStatus = PluginStatus.PENDING
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
            "status": PluginStatus(self.status).value,
            "error": self.error,
        }

    def label(self) -> str:
        """``'name' (distribution version)`` for messages."""
        return f"{self.name!r} ({self.distribution} {self.version or ''}".rstrip() + ")"


def strict_mode() -> bool:
    return os.environ.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes", "on")


def plugin_filter(raw: str | None = None) -> Callable[[PluginInfo], bool]:
    """The ``DIFFBLOCKS_PLUGINS`` policy: unset = all, empty = none, ``a,b`` = only these,
    ``-a,-b`` = all but these. Names match distribution names (from metadata, PEP 503
    normalised) only: an entry point's name is chosen by its package and could impersonate."""
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
        key = normalize(info.distribution)
        if key in exclude:
            return False
        return not include or key in include

    return allowed


def unmatched_filter_names(found: list[PluginInfo], raw: str | None = None) -> list[str]:
    """One message per ``DIFFBLOCKS_PLUGINS`` item that names no installed plugin distribution
    (a typo, or an entry-point name, which used to match), with the distributions it may mean."""
    from .._model._errors import did_you_mean, phrase_close

    if raw is None:
        raw = os.environ.get(ENV_PLUGINS)
    by_name = {normalize(p.name): p.distribution for p in found}
    dists = sorted({p.distribution for p in found})
    notes = []
    for item in (s.strip().lstrip("-") for s in (raw or "").split(",")):
        if item and normalize(item) not in dists:
            meant = by_name.get(normalize(item))
            # the closest only: plugin distributions share prefixes ("diffblocks-"), so the
            # runners-up are noise
            close = [meant] if meant else did_you_mean(normalize(item), dists, n=1)
            hint = phrase_close(close, aside=True, what="the distribution ")
            notes.append(f"{ENV_PLUGINS} names {item!r}, which is no installed plugin distribution{hint}")
    return notes


def disabled_reason(info: PluginInfo, raw: str | None = None) -> str:
    """How ``DIFFBLOCKS_PLUGINS`` leaves ``info`` out, and the change that loads it."""
    if raw is None:
        raw = os.environ.get(ENV_PLUGINS)
    dist = info.distribution
    items = [s.strip() for s in (raw or "").split(",") if s.strip()]
    if not items:
        return f"{ENV_PLUGINS} is set but empty, which loads no plugin; unset it, or set it to {dist!r}"
    excluded = [s for s in items if s.startswith("-") and normalize(s[1:]) == dist]
    if excluded:
        if any(not s.startswith("-") for s in items):  # a list of names loads only those named
            return (
                f"{ENV_PLUGINS}={raw!r} excludes it; remove {excluded[0]!r} from {ENV_PLUGINS} and add "
                f"{dist!r} to load it"
            )
        return f"{ENV_PLUGINS}={raw!r} excludes it; remove {excluded[0]!r} from {ENV_PLUGINS} to load it"
    return f"{ENV_PLUGINS}={raw!r} loads only the distributions it names; add {dist!r} to it to load it"


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


def _read_metadata(dist: Any) -> str:
    path = getattr(dist, "_path", None)
    if path is not None:
        # a plain open: pathlib joins cost more than the read with hundreds of plugins
        for name in ("METADATA", "PKG-INFO"):
            try:
                with open(os.path.join(os.fspath(path), name), encoding="utf-8") as fh:
                    return fh.read()
            except OSError:
                continue
    return dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""


# (folder, folder mtime) -> {dist-info name: requirement}. Installing or removing a distribution
# changes its folder's mtime, which is the same invalidation importlib.metadata's own path cache uses.
_REQUIREMENTS: dict[tuple[str, int], dict[str, str | None]] = {}


def _requirement(dist: Any, mtimes: dict[str, int]) -> str | None:
    path = getattr(dist, "_path", None)
    if path is None:
        return _parse_requirement(_read_metadata(dist))
    folder = os.fspath(path.parent)
    if folder not in mtimes:
        try:
            mtimes[folder] = os.stat(folder).st_mtime_ns
        except OSError:
            mtimes[folder] = -1
    known = _REQUIREMENTS.setdefault((folder, mtimes[folder]), {})
    if path.name not in known:
        known[path.name] = _parse_requirement(_read_metadata(dist))
    return known[path.name]


def _parse_requirement(text: str) -> str | None:
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
    mtimes: dict[str, int] = {}
    eps = entry_points()
    for group in (HOOK_GROUP, BLOCK_GROUP):
        for ep in eps.select(group=group):
            dist = ep.dist
            dist_name, version = _name_version(dist) if dist is not None else ("unknown", None)
            info = found.get(dist_name)
            if info is None:
                info = found[dist_name] = PluginInfo(dist_name, dist_name, version)
                info.requirement = _requirement(dist, mtimes) if dist is not None else None
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
    return _incompatibility(info.requirement, version)


@functools.lru_cache(maxsize=256)
def _incompatibility(requirement: str, version: str) -> str | None:
    # plugins mostly share a handful of requirement strings: parse each once
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
    except InvalidRequirement as exc:
        return f"unreadable requirement {requirement!r}: {exc}"
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return f"requires {requirement} but diffblocks {version} is installed"
    return None


def discover(version: str) -> list[PluginInfo]:
    """:func:`scan`, with the ``DIFFBLOCKS_PLUGINS`` policy and requirements applied: each plugin
    is pending, disabled or incompatible. Nothing is imported."""
    allowed = plugin_filter()
    found = scan()
    for info in found:
        if not allowed(info):
            info.status = PluginStatus.DISABLED
        elif (why := incompatibility(info, version)) is not None:
            info.status, info.error = PluginStatus.INCOMPATIBLE, why
    return found
