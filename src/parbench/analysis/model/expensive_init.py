"""B3 expensive_init (workloads/expensive_init.py): the model of one trial per backend."""

from __future__ import annotations

from collections.abc import Iterable

from ...primitives import key_of
from .core import (
    DRIVER,
    FIXED,
    WORKERS,
    MissingPrimitive,
    ModelInputs,
    Prediction,
    _bounded,
    _pipe_cpu,
    _pipe_wall,
    _rounds,
    _single,
    _term,
)


def _b3_sizes(m: ModelInputs) -> int:
    return int(m.sizes["expensive_init"]["rounds"])


def predict_with_threads(m: ModelInputs, threads: int) -> tuple[float, str | None]:
    """model.predict with t TensorFlow threads; t not measured: the best of the measured t' <= t
    (no gain beyond them), or, with `m.tf_parallel_fraction`, Amdahl's law from the largest measured."""
    c = m.costs
    if c.has("expensive_init.predict", threads=threads):
        return c("expensive_init.predict", threads=threads), None
    measured = sorted(int(k.split("=")[1].rstrip("]")) for k in c.seconds
                      if k.startswith("expensive_init.predict[threads="))
    below = [t for t in measured if t <= threads]
    if not below:
        raise MissingPrimitive(key_of("expensive_init.predict", {"threads": threads}))
    if m.tf_parallel_fraction is not None:
        top, p = below[-1], m.tf_parallel_fraction
        scale = ((1 - p) + p / threads) / ((1 - p) + p / top)
        return c("expensive_init.predict", threads=top) * scale, (
            f"predict with {threads} TensorFlow threads scaled from the measured {top} threads by Amdahl's law "
            f"with parallel fraction {p:.2f} (the post's own serial B3)")
    best = min(below, key=lambda t: c("expensive_init.predict", threads=t))
    return c("expensive_init.predict", threads=best), (
        f"predict with {threads} TensorFlow threads taken as the best measured ({best} threads)")


def expensive_init_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: rounds x N predicts, one after another, TensorFlow with N threads:
        T(N) = rounds x N x predict[N threads]
    """
    p, assumption = predict_with_threads(m, n)
    rounds = _b3_sizes(m)
    return _single("expensive_init", "serial", n, [_term(f"predict with {n} TensorFlow threads", DRIVER,
                                                         rounds * n, p)], [assumption] if assumption else [])


def _pool_rounds(backend: str, n: int, m: ModelInputs, rt: float, per_task: float, task_terms: list[tuple[str, float]],
                 result: tuple[float, float], extra_assumptions: Iterable[str] = ()) -> Prediction:
    """rounds x one map of N tasks (one per worker), a barrier after each round:
        span_r = map call + (N - 1) x per task + one task + its result
        work_r = map call + (N - 1) x per task + N x (task + result)
    """
    rounds = _b3_sizes(m)
    cap, assumption = m.capacity.at(n)
    ret_wall, ret_cpu = result
    span = [_term("map call", FIXED, 1, rt), _term("sending the tasks", DRIVER, n - 1, per_task)]
    span += [_term(f"{name} (last task)", WORKERS, 1, sec) for name, sec in task_terms]
    span += [_term("returning the prediction", WORKERS, 1, ret_wall)]
    work = [_term("map call", FIXED, 1, rt), _term("per-task overhead", DRIVER, n - 1, per_task)]
    work += [_term(name, WORKERS, n, sec) for name, sec in task_terms]
    work += [_term("returning the predictions", WORKERS, n, ret_cpu)]
    one = _bounded("expensive_init", backend, n, span, work, cap, [assumption, *extra_assumptions])
    return _rounds("expensive_init", backend, n, [one] * rounds, [], one.assumptions)


def _prediction_return(m: ModelInputs, n: int) -> tuple[float, float]:
    c = m.costs
    nbytes = c.fact("expensive_init.prediction_bytes")
    base = c("expensive_init.dumps_prediction") + c("expensive_init.loads_prediction")
    return base + _pipe_wall(m, nbytes, n), base + _pipe_cpu(m, nbytes)


def expensive_init_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`Multiprocessing.trial`: rounds x pool.map over N tasks; every task loads model and data and
    predicts once (the first predict of a fresh model, which traces Keras' predict function):
        T(N) = rounds x max(span_r, work_r / capacity(N)), task = load_model_and_data + first_predict
    """
    c = m.costs
    return _pool_rounds("multiprocessing", n, m, c("transport.pool_round_trip"), c("transport.pool_per_task"),
                        [("loading model and data", c("expensive_init.load_model_and_data")),
                         ("first predict of a fresh model", c("expensive_init.first_predict"))],
                        _prediction_return(m, n))


def expensive_init_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: rounds x pool.map over N tasks, each predicting with its
    worker's model (loaded by the initializer, outside the timer):
        T(N) = rounds x max(span_r, work_r / capacity(N)), task = predict[1 thread]
    """
    c = m.costs
    return _pool_rounds("multiprocessing_tuned", n, m, c("transport.pool_round_trip"), c("transport.pool_per_task"),
                        [("predict with 1 thread", c("expensive_init.predict", threads=1))], _prediction_return(m, n))


def expensive_init_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: multiprocessing_tuned's structure with ProcessPoolExecutor.map."""
    c = m.costs
    return _pool_rounds("concurrent_futures", n, m, c("transport.executor_round_trip"),
                        c("transport.executor_per_task"),
                        [("predict with 1 thread", c("expensive_init.predict", threads=1))], _prediction_return(m, n))


def expensive_init_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: rounds x ray.get of one evaluate_next_batch call per actor (model loaded in setup):
        span_r = (N - 1) x actor call submit + actor call returning a prediction + predict in an actor
        work_r = N x (actor call returning a prediction + predict in an actor)
        T(N) = rounds x max(span_r, work_r / capacity(N))
    """
    c = m.costs
    rounds = _b3_sizes(m)
    cap, assumption = m.capacity.at(n)
    call, predict, submit = (c("expensive_init.ray_actor_call_result"), c("expensive_init.ray_actor_predict"),
                             c("ray.actor_submit"))
    span = [_term("submitting the actor calls", DRIVER, n - 1, submit),
            _term("actor call returning a prediction", WORKERS, 1, call),
            _term("predict in an actor (last call)", WORKERS, 1, predict)]
    work = [_term("actor calls returning predictions", WORKERS, n, call),
            _term("predict in an actor", WORKERS, n, predict)]
    one = _bounded("expensive_init", "ray", n, span, work, cap, [assumption])
    return _rounds("expensive_init", "ray", n, [one] * rounds, [], one.assumptions)
