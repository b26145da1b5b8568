"""Automatic CPU offload: models live on the CPU and move to the execution device when used.

A model is *used* when a block takes it from ``components`` (``components.unet``) and when its
``forward`` runs (a plain torch forward pre-hook, for code that kept a reference). Before a model
moves in, the least recently used resident models move out until it fits: in a fixed budget when
one is given, else in the device's free memory less a reserve margin.

A model larger than all the room is streamed a group of modules at a time (``_stream.py``).

Each model's weights keep one CPU copy (pinned when the device is CUDA, so copies in are fast and
asynchronous). Moving a model out only points its parameters back at that copy, so nothing is
copied back: weights are treated as read-only while offload is on (change them with it off).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ._components import model_bytes
from ._stream import StreamedModel


def parse_bytes(value: int | float | str) -> int:
    """``3_000_000``, ``"3GB"``, ``"512MB"``, ``"1.5GiB"`` -> bytes."""
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B?)\s*", value, re.IGNORECASE)
    if match is None:
        raise ValueError(f"cannot read {value!r} as a size: write bytes or e.g. '3GB', '512MB'")
    number, unit = float(match[1]), match[2].upper().rstrip("B")
    powers = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}
    base = 1024 if unit.endswith("I") else 1000
    return int(number * base ** powers[unit.rstrip("I")])


@dataclass
class _Entry:
    component_id: str
    model: Any
    size: int
    copies: dict[int, Any] = field(default_factory=dict)  # id(tensor) -> its CPU copy
    hook: Any = None
    streamed: StreamedModel | None = None  # set when the model is larger than the room

    @property
    def footprint(self) -> int:
        """Bytes it takes on the device while resident."""
        return self.streamed.footprint if self.streamed is not None else self.size


class AutoOffload:
    """Moves managed models between the CPU and ``device`` (see the module docstring)."""

    def __init__(
        self,
        device: Any,
        memory_reserve_margin: int | str = "3GB",
        memory_budget: int | str | None = None,
        stream_large_models: bool = True,
    ) -> None:
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(device)
        if device.type == "cuda" and device.index is None and torch.cuda.is_available():
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        self.margin = parse_bytes(memory_reserve_margin)
        self.budget = parse_bytes(memory_budget) if memory_budget is not None else None
        self.pin = device.type == "cuda" and torch.cuda.is_available()
        self.stream_large_models = stream_large_models
        self._entries: dict[int, _Entry] = {}
        self._resident: OrderedDict[int, None] = OrderedDict()  # least recently used first
        #: counts of moves in and out, for tests and benchmarks
        self.loads = 0
        self.evictions = 0

    # -- membership -------------------------------------------------------------------------
    def add(self, component_id: str, model: Any) -> None:
        """Manage ``model``: it moves to the CPU now and to the device when used."""
        if id(model) in self._entries:
            return
        entry = _Entry(component_id, model, model_bytes(model))
        self._entries[id(model)] = entry
        self._to_cpu(entry)
        entry.hook = model.register_forward_pre_hook(self._pre_forward, with_kwargs=True)

    def remove(self, model: Any) -> None:
        """Stop managing ``model``; it is left on the CPU."""
        entry = self._entries.pop(id(model), None)
        if entry is None:
            return
        self._to_cpu(entry)
        self._resident.pop(id(model), None)
        if entry.hook is not None:
            entry.hook.remove()
        if entry.streamed is not None:
            entry.streamed.close()

    def close(self) -> None:
        """Move every model to the CPU and remove the hooks."""
        for entry in list(self._entries.values()):
            self.remove(entry.model)

    def manages(self, model: Any) -> bool:
        return id(model) in self._entries

    def is_resident(self, model: Any) -> bool:
        return id(model) in self._resident

    def streamed_footprint(self, model: Any) -> int | None:
        """For a model streamed because it is larger than the room: the most bytes it takes on
        the device at once; None for a model that moves whole."""
        entry = self._entries.get(id(model))
        return entry.streamed.footprint if entry is not None and entry.streamed is not None else None

    def resident_ids(self) -> list[str]:
        """Component ids on the device, least recently used first."""
        return [self._entries[key].component_id for key in self._resident]

    # -- use ----------------------------------------------------------------------------------
    def use(self, model: Any) -> Any:
        """Make sure ``model`` is on the device (making room first); returns it."""
        key = id(model)
        if key in self._resident:
            self._resident.move_to_end(key)
            return model
        entry = self._entries.get(key)
        if entry is None:
            return model
        if entry.streamed is None and self.stream_large_models:
            room = self.capacity()
            if room is not None and entry.size > room:
                entry.streamed = StreamedModel(self.device, entry.copies, model, room, self.pin)
        self._make_room(entry)
        self._to_device(entry)
        self._resident[key] = None
        self.loads += 1
        return model

    def _pre_forward(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.use(module)
        import torch

        def move(value: Any) -> Any:
            if isinstance(value, torch.Tensor) and value.device != self.device:
                return value.to(self.device)
            return value

        return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}

    # -- room ---------------------------------------------------------------------------------
    def available(self) -> int | None:
        """Bytes a model may still take on the device (None: unknown, never evict)."""
        if self.budget is not None:
            return self.budget - self._resident_bytes()
        if self.device.type != "cuda":
            return None
        import torch

        free, _ = torch.cuda.mem_get_info(self.device)
        # memory the caching allocator holds but no tensor uses is free for our purpose
        cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        return free + cached - self.margin

    def _resident_bytes(self) -> int:
        return sum(self._entries[k].footprint for k in self._resident)

    def capacity(self) -> int | None:
        """Bytes of models the device holds with nothing of ours on it (None: unknown)."""
        room = self.available()
        return None if room is None else room + self._resident_bytes()

    def _make_room(self, incoming: _Entry) -> None:
        room = self.available()
        if room is None or incoming.footprint <= room:
            return
        for key in list(self._resident):
            victim = self._entries[key]
            self._to_cpu(victim)
            del self._resident[key]
            self.evictions += 1
            room += victim.footprint
            if incoming.footprint <= room:
                return

    # -- moves --------------------------------------------------------------------------------
    def _tensors(self, model: Any) -> list[tuple[Any, bool]]:
        return [(p, True) for p in model.parameters()] + [(b, False) for b in model.buffers()]

    def _to_device(self, entry: _Entry) -> None:
        if entry.streamed is not None:
            entry.streamed.onload()
            return
        for tensor, _ in self._tensors(entry.model):
            copy = entry.copies.get(id(tensor))
            if copy is None:  # a tensor added since (e.g. an adapter): keep a CPU copy of it too
                copy = entry.copies[id(tensor)] = self._cpu_copy(tensor.data)
            tensor.data = copy.to(self.device, non_blocking=self.pin)

    def _to_cpu(self, entry: _Entry) -> None:
        for tensor, is_param in self._tensors(entry.model):
            copy = entry.copies.get(id(tensor))
            if copy is None or (not is_param and tensor.device.type != "meta"):
                # first time, or a buffer (which forward may update): copy what is there now
                copy = entry.copies[id(tensor)] = self._cpu_copy(tensor.data)
            tensor.data = copy
        if entry.streamed is not None:
            entry.streamed.offloaded()

    def _cpu_copy(self, data: Any) -> Any:
        copy = data.to("cpu") if data.device.type != "cpu" else data
        if self.pin and not copy.is_pinned():
            copy = copy.pin_memory()
        return copy


__all__ = ["AutoOffload", "parse_bytes"]
