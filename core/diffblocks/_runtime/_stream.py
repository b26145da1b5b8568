"""Streaming a model that is larger than the room auto offload gives it.

The model is cut into groups of modules (at most ``limit`` bytes each, following the module
tree). A prefix of the groups, in registration order (so the input layers, and with them
``model.device``, are on the device), stays on the device while the model is resident; that is
its footprint less room for two streamed groups. Every other group moves in just before its
``forward`` runs and back out right after. After the first pass has shown the order in which the
streamed groups run, each one's pre-hook starts copying the next one in on a side CUDA stream,
so the copies overlap with compute. Streamed parts must be used through their modules' forward
(as diffusers' models are); their weights and buffers are treated as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._components import model_bytes


@dataclass(eq=False)
class Group:
    module: Any
    tensors: list[Any]
    size: int
    #: hooks on this module never fire (a ModuleList's own tensors): it must stay on the device
    keep: bool = False
    on_device: bool = False
    event: Any = None  # a CUDA event while a prefetch is in flight
    hooks: list[Any] = field(default_factory=list)


def _runs_forward(module: Any) -> bool:
    """Whether calling code runs this module's forward (ModuleList and friends have none, so
    hooks on them would never fire)."""
    import torch

    return type(module).forward is not torch.nn.Module.forward


def split(model: Any, limit: int) -> list[Group]:
    """Groups of at most ``limit`` bytes where the module tree allows, in registration order.
    A group is always a module whose forward runs; tensors that belong to no such module below
    a split container form a group that is kept on the device."""
    groups: list[Group] = []

    def nbytes(tensors: list[Any]) -> int:
        return sum(t.numel() * t.element_size() for t in tensors)

    def visit(module: Any) -> None:
        size = model_bytes(module)
        if size == 0:
            return
        children = list(module.children())
        runs = _runs_forward(module)
        if runs and (size <= limit or not children):
            groups.append(Group(module, [*module.parameters(), *module.buffers()], size))
            return
        # split: the container's own tensors, and those of children without a forward of their
        # own and nothing to split (a ParameterList), travel with the container
        direct = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        for child in children:
            if not _runs_forward(child) and not list(child.children()):
                direct += [*child.parameters(), *child.buffers()]
        if direct:
            groups.append(Group(module, direct, nbytes(direct), keep=not runs))
        for child in children:
            if _runs_forward(child) or list(child.children()):
                visit(child)

    visit(model)
    return groups


class StreamedModel:
    """One model run a part at a time (see the module docstring)."""

    def __init__(self, device: Any, copies: dict[int, Any], model: Any, room: int, pin: bool) -> None:
        import torch

        self.device, self.copies, self.pin = device, copies, pin
        groups = split(model, max(1, min(64 * 2**20, room // 8)))
        biggest = max(g.size for g in groups)
        keep = room - 2 * biggest
        self.resident: list[Group] = []
        self.streamed: list[Group] = []
        used = 0
        for group in groups:
            # the first group always stays (model.device reads it), and those no hook can move
            if group.keep or (not self.streamed and (not self.resident or used + group.size <= keep)):
                self.resident.append(group)
                used += group.size
            else:
                self.streamed.append(group)
        #: bytes on the device while resident: the kept part and two streamed groups
        self.footprint = used + 2 * (max(g.size for g in self.streamed) if self.streamed else 0)
        self.side = torch.cuda.Stream(device) if pin else None
        self.order: list[Group] = []
        self.next: dict[int, Group] = {}
        #: groups moved in, for tests and benchmarks
        self.group_loads = 0
        self._by_module: dict[int, Group] = {}
        for group in self.streamed:
            self._by_module[id(group.module)] = group
            group.hooks = [
                group.module.register_forward_pre_hook(self._before),
                group.module.register_forward_hook(self._after),
            ]

    def onload(self) -> None:
        """Move the kept part in (the model became resident)."""
        for group in self.resident:
            self._load(group, None)

    def offloaded(self) -> None:
        """The whole model went back to the CPU: forget what was on the device."""
        for group in [*self.resident, *self.streamed]:
            group.on_device, group.event = False, None

    def close(self) -> None:
        for group in self.streamed:
            for hook in group.hooks:
                hook.remove()
            group.hooks = []

    # -- hooks --------------------------------------------------------------------------------
    def _before(self, module: Any, args: Any) -> None:
        group = self._by_module[id(module)]
        if group.event is not None:
            import torch

            current = torch.cuda.current_stream(self.device)
            current.wait_event(group.event)
            for tensor in group.tensors:
                tensor.data.record_stream(current)  # freed later on this stream, not the side one
            group.event, group.on_device = None, True
        elif not group.on_device:
            self._load(group, None)
        if not self.next:
            if self.order and group is self.order[0]:  # a second pass: the order is known
                self.next = {id(g): self.order[(i + 1) % len(self.order)] for i, g in enumerate(self.order)}
            elif group not in self.order:
                self.order.append(group)
        upcoming = self.next.get(id(group)) if self.side is not None else None
        if (
            upcoming is not None
            and upcoming is not group
            and not upcoming.on_device
            and upcoming.event is None
        ):
            self._load(upcoming, self.side)

    def _after(self, module: Any, args: Any, output: Any) -> None:
        group = self._by_module[id(module)]
        for tensor in group.tensors:
            tensor.data = self._copy(tensor)
        group.on_device, group.event = False, None

    # -- moves --------------------------------------------------------------------------------
    def _copy(self, tensor: Any) -> Any:
        copy = self.copies.get(id(tensor))
        if copy is None:  # added since (e.g. an adapter): keep a CPU copy of it too
            copy = tensor.data.to("cpu") if tensor.device.type != "cpu" else tensor.data
            self.copies[id(tensor)] = copy
        return copy

    def _load(self, group: Group, stream: Any) -> None:
        self.group_loads += 1
        if stream is None:
            for tensor in group.tensors:
                tensor.data = self._copy(tensor).to(self.device, non_blocking=self.pin)
            group.on_device = True
            return
        import torch

        with torch.cuda.stream(stream):
            for tensor in group.tensors:
                tensor.data = self._copy(tensor).to(self.device, non_blocking=True)
            group.event = torch.cuda.Event()
            group.event.record(stream)


__all__ = ["Group", "StreamedModel", "split"]
