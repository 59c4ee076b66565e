"""Data parallelism on JAX's own runtime: the processes, the device mesh, the shardings and global arrays.

One home for everything that depends on how many devices and processes a run has:

- `initialize` starts JAX's multi-controller runtime (`jax.distributed.initialize`) when a run has
  several processes (one per host, or several on one machine); a single process needs nothing.
- `data_mesh(n)` is a 1-D mesh, axis "data", over the first n local devices of every process, in
  process order (so process p holds a contiguous block of every batch).
- State is `replicated` (every device holds all of it); a batch is split along its leading axis
  over "data" (`batch_sharding`). A jitted step that takes a replicated state and a split batch
  and averages the loss over the whole batch gets its gradients summed across devices by XLA's
  sharding propagation: no hand-written collective, and the same numbers as one device up to
  float32 reassociation.
- Each process loads only its rows of a global batch (`local_rows`) and `global_batch` assembles
  the process-local pieces into one global array (`jax.make_array_from_process_local_data`).
- `put_runs` splits a leading axis of independent runs (seeds, configs) over the devices as a batch is split.

Random numbers are partitionable (`jax_threefry_partitionable`, JAX's default since 0.5): a
dropout mask drawn inside a sharded step is the one drawn on one device.
"""

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
TIMEOUT_VARIABLE = "JAXDL_INITIALIZATION_TIMEOUT"  # seconds a process waits for the coordinator and the others
INITIALIZATION_TIMEOUT_S = 60  # when the variable is not set
AUTO = "auto"  # coordinator_address value: let jax.distributed.initialize() detect the cluster

jax.config.update("jax_threefry_partitionable", True)  # masks independent of the sharding (JAX's default)


@dataclasses.dataclass(frozen=True)
class Processes:
    """How a run is spread over processes: none of the three set means one process.

    coordinator_address: "HOST:PORT" of process 0's coordinator service (every process gives the
    same), or "auto" to let `jax.distributed.initialize()` read the cluster from its environment
    (SLURM, Open MPI, Cloud TPU slices, GKE). num_processes and process_id: how many processes take
    part and which one this is (0-based).
    """

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def distributed(self) -> bool:
        return self.coordinator_address is not None

    def check(self, flag=lambda name: f"--{name}") -> None:
        """Raise ValueError naming the flag (`flag(field name)`) of the first inconsistent setting."""
        address, count, index = self.coordinator_address, self.num_processes, self.process_id
        if address is None:
            if count not in (None, 1) or index not in (None, 0):
                raise ValueError(f"{flag('num_processes')} {count} and {flag('process_id')} {index} need "
                                 f"{flag('coordinator_address')} HOST:PORT (process 0's address, the same for every "
                                 "process)")
            return
        if address == AUTO:
            if count is not None or index is not None:
                raise ValueError(f"{flag('coordinator_address')} auto detects the processes from the cluster; "
                                 f"drop {flag('num_processes')} and {flag('process_id')}, or give the address")
            return
        if not re.fullmatch(r"\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}", address):
            raise ValueError(f"{flag('coordinator_address')} must be HOST:PORT (e.g. localhost:12345 or "
                             f"10.0.0.1:1234), got {address!r}")
        if count is None or index is None:
            raise ValueError(f"{flag('coordinator_address')} needs {flag('num_processes')} N and {flag('process_id')} "
                             "I (this process's index, 0 to N-1)")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{flag('num_processes')} must be a positive integer, got {count!r}")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise ValueError(f"{flag('process_id')} must be between 0 and {count - 1} for {flag('num_processes')} "
                             f"{count}, got {index!r}")


def initialization_timeout() -> int:
    """$JAXDL_INITIALIZATION_TIMEOUT (a positive number of seconds), else 60."""
    text = os.environ.get(TIMEOUT_VARIABLE, str(INITIALIZATION_TIMEOUT_S))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{TIMEOUT_VARIABLE} must be a positive whole number of seconds, got {text!r}")
    return int(text)


def initialize(processes: Processes, timeout_s: int | None = None) -> None:
    """Start JAX's distributed runtime for `processes` (nothing for a single process).

    Must run before anything else touches the devices. Every process calls it with the same
    address and count and its own id; process 0 serves as coordinator. Before joining, a process
    other than 0 waits up to `timeout_s` seconds (default `initialization_timeout()`) for the
    coordinator's port to accept connections and raises TimeoutError naming the address if it never
    does; process 0 raises ConnectionError for a port it cannot listen on. (JAX's own runtime
    aborts the process, rather than raising, when a peer never arrives; these checks turn the
    common mistakes into errors first.)
    """
    processes.check()
    if not processes.distributed or jax.distributed.is_initialized():
        return
    timeout_s = timeout_s or initialization_timeout()
    if processes.coordinator_address == AUTO:
        jax.distributed.initialize(initialization_timeout=timeout_s)
        return
    host, port = processes.coordinator_address.rsplit(":", 1)
    host = host.strip("[]")
    if processes.process_id == 0:
        _check_can_listen(host, int(port), processes.coordinator_address)
    else:
        _wait_for_coordinator(host, int(port), processes.coordinator_address, timeout_s)
    print(f"Joining {processes.num_processes} processes at {processes.coordinator_address} as process "
          f"{processes.process_id} (waiting up to {timeout_s} s for the others)", flush=True)
    jax.distributed.initialize(processes.coordinator_address, processes.num_processes, processes.process_id,
                               initialization_timeout=timeout_s)


def _check_can_listen(host: str, port: int, address: str) -> None:
    """ConnectionError naming `address` unless this machine can listen on `port` (it is free and `host`
    is this machine)."""
    import socket

    try:
        with socket.create_server(("", port), reuse_port=False):
            pass
    except OSError as error:
        raise ConnectionError(f"process 0 coordinates the run but cannot listen on {address} ({error.strerror}); "
                           "choose a free port (and start process 0 on the host the address names)") from error


def _wait_for_coordinator(host: str, port: int, address: str, timeout_s: float) -> None:
    """Retry a TCP connection to the coordinator until it accepts one; TimeoutError after `timeout_s`."""
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the coordinator at {address} did not answer within {timeout_s} s "
                                   f"({error.strerror or error}); start process 0 (--process_id 0) with the same "
                                   "address first, and check the host name and port") from error
            time.sleep(0.25)


def data_mesh(devices_per_process: int | None = None) -> Mesh:
    """A 1-D mesh, axis "data", over the first `devices_per_process` local devices of each process
    (all of them when None), ordered by process and then by local device id.

    Asking for more devices than a process has raises ValueError with the count it has.
    """
    local = jax.local_device_count()
    if devices_per_process is None:
        devices_per_process = local
    if isinstance(devices_per_process, bool) or not isinstance(devices_per_process, int) or devices_per_process < 1:
        raise ValueError(f"--devices must be a positive integer, got {devices_per_process!r}")
    if devices_per_process > local:
        raise ValueError(f"--devices {devices_per_process} is more than the {local} {jax.default_backend()} "
                         f"device{'s' if local != 1 else ''} this process has; give --devices {local} or fewer "
                         "(on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N devices)")
    chosen = []
    for process in range(jax.process_count()):
        mine = sorted((d for d in jax.devices() if d.process_index == process), key=lambda d: d.id)
        chosen.extend(mine[:devices_per_process])
    return jax.make_mesh((len(chosen),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=chosen)


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device of `mesh` holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The leading (batch) axis split in equal blocks over "data", in mesh order."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_divisible(size: int, mesh: Mesh, what: str) -> None:
    """ValueError unless `size` (named `what`, e.g. "--batchsize 30") splits evenly over the mesh's devices."""
    devices = mesh.size
    if size % devices:
        lower, upper = size - size % devices, size + devices - size % devices
        processes = jax.process_count()
        raise ValueError(f"{what} must divide evenly over the {devices} devices ({processes} "
                         f"process{'es' if processes > 1 else ''} x {devices // processes}): "
                         f"{size} = {size // devices} x {devices} + {size % devices}; give {lower or upper} or {upper}")


def local_rows(mesh: Mesh, global_size: int) -> slice:
    """The rows of a global batch of `global_size` (divisible by the mesh's size) that this process
    loads: the blocks of its devices, which `data_mesh` makes contiguous."""
    indices = batch_sharding(mesh).addressable_devices_indices_map((global_size,))
    starts = sorted(index[0].start or 0 for index in indices.values())
    block = global_size // mesh.size
    rows = slice(starts[0], starts[-1] + block)
    if rows.stop - rows.start != block * len(starts):
        raise ValueError(f"this process's devices do not hold a contiguous block of the batch ({starts}); "
                         "build the mesh with jaxdl.parallel.data_mesh")
    return rows


def global_batch(mesh: Mesh, local: Any, global_size: int) -> Any:
    """The global arrays, split over "data", whose rows `local_rows(mesh, global_size)` are this
    process's `local` arrays (a pytree of host arrays with a leading batch axis)."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(
        sharding, np.asarray(a), (global_size, *np.shape(a)[1:])), local)


def put_replicated(mesh: Mesh, tree: Any) -> Any:
    """`tree` (the same values in every process) on every device of `mesh`."""
    return _put(tree, replicated(mesh))


def put_runs(mesh: Mesh, tree: Any) -> Any:
    """`tree` (the same values in every process), its leading axis split over "data"."""
    return _put(tree, batch_sharding(mesh))


def _put(tree: Any, sharding: NamedSharding) -> Any:
    def put(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(_put(jax.random.key_data(leaf), sharding),
                                            impl=jax.random.key_impl(leaf))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """NumPy copies of every leaf, whole in every process (gathered across processes when sharded);
    typed PRNG keys come back as key arrays on this process's first device."""
    def fetch(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(fetch(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf))
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and not leaf.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return np.asarray(leaf)

    return jax.tree.map(fetch, tree)


def padded_size(count: int, mesh: Mesh) -> int:
    """The smallest multiple of the mesh's size that holds `count` runs (extra runs repeat the last)."""
    return math.ceil(count / mesh.size) * mesh.size


def pad_leading(tree: Any, count: int) -> Any:
    """Each leaf's leading axis extended to `count` entries by repeating its last one."""
    def pad(leaf):
        extra = count - leaf.shape[0]
        if extra <= 0:
            return leaf
        tail = leaf[-1:]
        if isinstance(leaf, np.ndarray):
            return np.concatenate([leaf] + [tail] * extra)
        return jax.numpy.concatenate([leaf] + [tail] * extra)

    return jax.tree.map(pad, tree)


def is_writer() -> bool:
    """True in the process that writes a run's files (process 0)."""
    return jax.process_index() == 0


def describe(mesh: Mesh, global_batch_size: int | None = None) -> str:
    """What the run uses: processes, devices per process, device kind, and the batch per device."""
    devices = mesh.devices.ravel()
    processes = jax.process_count()
    line = (f"Mesh: {processes} process{'es' if processes > 1 else ''} x {len(devices) // processes} "
            f"device{'s' if len(devices) // processes > 1 else ''} ({devices[0].device_kind}), "
            f"{len(devices)} in all, axis '{DATA_AXIS}'")
    if global_batch_size is not None:
        line += (f"\nBatch: {global_batch_size} global, {global_batch_size // len(devices)} per device, "
                 f"{global_batch_size // processes} per process")
    return line


def sync(name: str) -> None:
    """Wait until every process reaches the barrier `name` (nothing for a single process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def same_in_every_process(values: Sequence[int | None], what: str) -> None:
    """ValueError when the processes disagree on `values` (integer settings that fix the computation,
    None allowed), naming `what` they are."""
    if jax.process_count() == 1:
        return
    mine = np.asarray([-1 if value is None else int(value) for value in values], np.int64)
    every = np.asarray(multihost_utils.process_allgather(mine))
    if not (every == mine).all():
        raise ValueError(f"the processes were started with different {what}: {every.tolist()}; start every "
                         "process with the same flags")
