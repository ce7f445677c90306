"""B2 stateful (workloads/stateful.py): the model of one trial per backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ...catalog import PER_DOCUMENT, PER_WORD
from .core import (
    DRIVER,
    FIXED,
    WORKERS,
    ModelInputs,
    Prediction,
    Term,
    _bounded,
    _lump,
    _pipe_cpu,
    _pipe_wall,
    _rounds,
    _s,
    _single,
    _term,
)


def _stateful_sizes(m: ModelInputs) -> tuple[int, int]:
    sizes = m.sizes["stateful"]
    return int(sizes["docs_per_core"]), int(sizes["mp_state_slots"])


# B2's driver makes a document per word (the post's code) or in one RNG call (`--document-generation`):
# each is a primitive of its own, so both variants are predicted.
GENERATION_PRIMITIVES = {PER_WORD: "stateful.generate_document", PER_DOCUMENT: "stateful.generate_document_block"}


def with_generation(inputs: ModelInputs, generation: str) -> ModelInputs:
    """The same inputs, predicting B2 with `generation` (a fresh prediction cache)."""
    return replace(inputs, document_generation=generation, cache={})


def _generate(m: ModelInputs) -> float:
    return m.costs(GENERATION_PRIMITIVES[m.document_generation])


def _counting(m: ModelInputs, docs: int) -> list[float]:
    """count_document[k], k = 0 .. docs - 1: counting into a state that holds k documents."""
    return m.costs.derived(("stateful.count_document", docs),
                           lambda: [m.costs("stateful.count_document", k=k) for k in range(docs)])


def stateful_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: the driver generates D x N documents and counts each into state i % N.

    Each of the N states receives D documents, the k-th into a state already holding k:
        T(N) = N x D x generate_document + N x sum_k count_document[k]        (one process)
    """
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    per_state = sum(_counting(m, docs))
    return _single("stateful", "serial", n, [
        _term("generating the documents", DRIVER, n * docs, g),
        _lump("counting prefixes", DRIVER, n * per_state, f"{n} states x {_s(per_state)}"),
    ])


def stateful_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`pool_map_rounds`: D rounds; each round the driver generates N documents, then pool.map
    sends (counts, popular, document) for s = min(N, mp_state_slots) slots and gets (counts, popular)
    back -- the original's 4 slots, so above 4 cores only 4 documents per round are counted.

    Round r (states hold r documents), per task:
        out  A = dumps(state r) + dumps(document) + pipe(state r + document)      driver, serial
        work W = loads(state r) + loads(document) + count[r] + dumps(state r+1) + pipe(state r+1)
        back R = loads(state r+1)                                               driver, serial
    The task handler sends the s tasks one after another, the result handler unpickles the s
    results one after another, and the workers overlap both:
        span_r = pool round trip + A + W + R + (s - 1) x max(A, pipe(state r+1) + R)
        work_r = pool round trip + (s - 1) x pool per task + s x (A + W + R)   (pipes at CPU cost)
        T(N) = sum_r [N x generate_document + max(span_r, work_r / capacity(N))]   (rounds: barriers)
    """
    c = m.costs
    docs, slots = _stateful_sizes(m)
    s = min(n, slots)
    g = _generate(m)
    doc_bytes = c.fact("stateful.document_bytes")
    state_bytes = {int(k): v for k, v in c.fact("stateful.state_bytes").items()}
    rt, per_task = c("transport.pool_round_trip"), c("transport.pool_per_task")
    cap, assumption = m.capacity.at(n)

    def dumps_state(k):
        return c("stateful.dumps_state", k=k) if k > 0 else 0.0  # an empty dict pickles in microseconds

    def loads_state(k):
        return c("stateful.loads_state", k=k) if k > 0 else 0.0

    def round_terms(r: int, counting: list[float]) -> tuple[list[Term], list[Term]]:
        out_pickle = dumps_state(r) + c("stateful.dumps_document")
        in_bytes = state_bytes[r] + doc_bytes
        out_bytes = state_bytes[r + 1]
        a_wall = out_pickle + _pipe_wall(m, in_bytes, n)
        w_wall = loads_state(r) + c("stateful.loads_document") + counting[r] + dumps_state(r + 1) \
            + _pipe_wall(m, out_bytes, n)
        back = loads_state(r + 1)
        queue = max(a_wall, _pipe_wall(m, out_bytes, n) + back)
        span = [
            _term("Pool.map call", FIXED, 1, rt),
            _term("pickling the state and sending it", DRIVER, 1, a_wall),
            _term("unpickling, counting, pickling the state back", WORKERS, 1, w_wall),
            _term("unpickling the returned state", DRIVER, 1, back),
            _term("the other slots' states through the driver", DRIVER, s - 1, queue),
        ]
        work = [
            _term("Pool.map call", FIXED, 1, rt),
            _term("Pool per-task overhead", DRIVER, s - 1, per_task),
            _term("pickling the state and sending it", DRIVER, s, out_pickle + _pipe_cpu(m, in_bytes)),
            _term("unpickling, counting, pickling the state back", WORKERS, s,
                  loads_state(r) + c("stateful.loads_document") + counting[r] + dumps_state(r + 1)
                  + _pipe_cpu(m, out_bytes)),
            _term("unpickling the returned state", DRIVER, s, back),
        ]
        return span, work

    # The rounds' terms depend on the costs, s and whether pipes cross cores, not on capacity:
    # made once per draw for every core count above the slots and every assumption setting.
    per_round = c.derived(("stateful.multiprocessing rounds", docs, s, n > 1),
                          lambda: [round_terms(r, _counting(m, docs)) for r in range(docs)])
    rounds = [_bounded("stateful", "multiprocessing", n, span, work, cap, []) for span, work in per_round]
    generate = [_term("generating the documents", DRIVER, n * docs, g)]
    notes = [assumption] + ([f"the original's {slots} state slots: {s} of the {n} documents of a round are counted"]
                            if n > slots else [])
    return _rounds("stateful", "multiprocessing", n, rounds, generate, notes)


def holder_pipeline(n: int, docs: int, driver_step: float, holder_step: Callable[[int], float],
                    ready: float = 0.0) -> float:
    """When the last of N state holders is done, if the driver hands document i (i = 0 .. N*docs - 1)
    to holder i % N at time (i + 1) x driver_step, and each holder, up from time `ready`, works
    through its queue in order, its k-th document taking holder_step(k). (Every holder on its own
    core: the span.)"""
    free = [ready] * n
    for i in range(n * docs):
        holder, k = i % n, i // n
        free[holder] = max(free[holder], (i + 1) * driver_step) + holder_step(k)
    return max(free)


def _stateful_actors(backend: str, n: int, m: ModelInputs, send: float, send_cpu: float, receive: float,
                     collect_first: float, collect_each: float, what: str, startup: float = 0.0) -> Prediction:
    """Shared by the actor-style backends (ray, multiprocessing_tuned): state stays in N holders,
    the driver generates each document and sends it to holder i % N; at the end one get_popular per
    holder. `send` is the driver's cost per document besides generating it; `startup` is each
    holder's start-up that falls inside the timer (Ray's fresh actors, not waited for)."""
    c = m.costs
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    counting = _counting(m, docs)
    cap, assumption = m.capacity.at(n)
    popular = c("stateful.dumps_popular") + c("stateful.loads_popular")
    collect = collect_first + (n - 1) * collect_each + popular + (n - 1) * c("stateful.loads_popular")
    # the same for every assumption setting: made once per draw, core count and way of making documents
    finish = c.derived(("stateful.holder_pipeline", backend, n, docs, m.document_generation),
                       lambda: holder_pipeline(n, docs, g + send, lambda k: receive + counting[k], ready=startup))
    driver_span = n * docs * (g + send)
    span = [
        _term("generating the documents", DRIVER, n * docs, g),
        _term(f"sending the documents ({what})", DRIVER, n * docs, send),
        _lump("counting still running after the last document was sent", WORKERS, max(finish - driver_span, 0.0),
              "the holder pipeline's remainder"),
        _lump("get_popular from every holder", DRIVER, collect, f"{n} calls"),
    ]
    work = [
        _term("generating the documents", DRIVER, n * docs, g),
        _term(f"sending the documents ({what})", DRIVER, n * docs, send_cpu),
        _term("receiving the documents", WORKERS, n * docs, receive),
        _lump("counting prefixes", WORKERS, n * sum(counting), f"{n} states x {_s(sum(counting))}"),
        _lump("get_popular from every holder", DRIVER, n * (collect_first + popular), f"{n} calls"),
    ]
    if startup:
        work.append(_term("actor start-up inside the timer", WORKERS, n, startup))
    return _bounded("stateful", backend, n, span, work, cap, [assumption])


def stateful_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: the driver generates D x N documents and calls actor[i % N].add_document.remote;
    the actors count while the driver goes on generating; then ray.get of every get_popular. As in
    the post, `before_trial` creates N fresh actors right before the timer and does not wait for
    them: their start-up runs inside the timed region.

        driver, per document: generate_document + ray_submit_document
        actor: up after actor_start; k-th document: ray_receive_document + count_document[k]
        span = when the last actor is done (holder_pipeline) + get_popular from every actor
        work = every CPU-second above, N actor start-ups included / capacity(N)
        T(N) = max(span, work)
    """
    c = m.costs
    submit = c("stateful.ray_submit_document")
    return _stateful_actors("ray", n, m, submit, submit, c("stateful.ray_receive_document"),
                            c("ray.actor_call_round_trip"), c("ray.actor_submit"), "actor calls",
                            startup=c("ray.actor_start"))


def stateful_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: as Ray's, with one single-worker ProcessPoolExecutor per holder:

        driver, per document: generate_document + executor per task + dumps_document + pipe(document)
        worker, k-th document: loads_document + count_document[k]
        T(N) = max(span, work / capacity(N)) as for ray
    """
    c = m.costs
    doc_bytes = c.fact("stateful.document_bytes")
    base = c("transport.executor_per_task") + c("stateful.dumps_document")
    return _stateful_actors("multiprocessing_tuned", n, m, base + _pipe_wall(m, doc_bytes, n),
                            base + _pipe_cpu(m, doc_bytes), c("stateful.loads_document"),
                            c("transport.executor_round_trip"), c("transport.executor_per_task"),
                            "executor submit, pickling, pipe")


def stateful_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: the driver generates all D x N documents first (routed_groups),
    then executor.map sends holder k's D documents as one task, which counts them into a fresh
    state and returns its popular set:

        T(N) = N x D x generate_document + max(span, work / capacity(N))
        span = executor round trip + N x D x (dumps_document + pipe(document))   (the feeder sends)
               + D x loads_document + sum_k count[k] + popular set back
        work = executor round trip + (N - 1) x per task + N x (D x (dumps + pipe + loads) + sum_k count[k]
               + popular set back)
    """
    c = m.costs
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    doc_bytes = c.fact("stateful.document_bytes")
    counting = sum(_counting(m, docs))
    rt, per_task = c("transport.executor_round_trip"), c("transport.executor_per_task")
    popular = c("stateful.dumps_popular") + c("stateful.loads_popular")
    cap, assumption = m.capacity.at(n)
    send_wall = c("stateful.dumps_document") + _pipe_wall(m, doc_bytes, n)
    send_cpu = c("stateful.dumps_document") + _pipe_cpu(m, doc_bytes)
    span = [
        _term("executor.map call", FIXED, 1, rt),
        _term("pickling and sending the documents", DRIVER, n * docs, send_wall),
        _term("unpickling one group", WORKERS, docs, c("stateful.loads_document")),
        _lump("counting one group", WORKERS, counting, _s(counting)),
        _term("returning a popular set", WORKERS, 1, popular),
    ]
    work = [
        _term("executor.map call", FIXED, 1, rt),
        _term("per-task overhead", DRIVER, n - 1, per_task),
        _term("pickling and sending the documents", DRIVER, n * docs, send_cpu),
        _term("unpickling the documents", WORKERS, n * docs, c("stateful.loads_document")),
        _lump("counting prefixes", WORKERS, n * counting, f"{n} groups x {_s(counting)}"),
        _term("returning the popular sets", WORKERS, n, popular),
    ]
    inner = _bounded("stateful", "concurrent_futures", n, span, work, cap, [assumption])
    return _rounds("stateful", "concurrent_futures", n, [inner], [_term("generating the documents", DRIVER,
                                                                         n * docs, g)], inner.assumptions)


def stateful_threads(n: int, m: ModelInputs) -> Prediction:
    """`Threads.trial`: the counting is pure Python and holds the GIL, and the driver thread
    generating documents needs the GIL too: everything runs one at a time, as serial."""
    serial = stateful_serial(n, m)
    return _single("stateful", "threads", n, list(serial.terms), ["thread switching and the locks cost nothing"])
