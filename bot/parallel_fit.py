"""Fit a one-against-the-rest liblinear logistic regression with one intent per task, in worker processes.

liblinear's one-against-the-rest fits each intent's binary problem on its own, one after the
other on one core (74 s of a 129 s studio training, 8 languages, 23,000 examples). The same
binary problems fitted in ``workers`` forked processes give the same coefficients (up to the
sign convention, which is undone, and float noise: ``tests/test_training_speed_parallel.py``)
in about ``1 / workers`` of the wall time. The workers run at a lower priority
(``os.nice``) so that shoppers' replies in the server keep their core.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Optional

import numpy as np
from scipy.sparse import csr_matrix

NICENESS = 10  # added to the caller's: the server's loop comes first on a 2-core machine
_shared: dict = {}  # the matrix and labels, inherited by the forked workers (no copy, no pickling)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # (not Linux)
        return max(os.cpu_count() or 1, 1)


def _binary(clf, positive) -> tuple[np.ndarray, float, int]:
    """One intent against the rest, fitted as ``clf`` would fit it inside a one-against-the-rest fit."""
    from sklearn.base import clone

    X, y = _shared["X"], _shared["y"]
    model = clone(clf).set_params(class_weight=_binary_weights(clf.class_weight, y, positive))
    model.fit(X, y == positive, sample_weight=_shared.get("sample_weight"))
    # A binary fit's row is for the class ``True`` (sorted second): the intent's own row.
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0]), int(model.n_iter_[0])


def _binary_weights(class_weight, y: np.ndarray, positive) -> Optional[dict]:
    """The weights liblinear gives one intent's binary problem in a one-against-the-rest fit: the
    intent's own class weight (``balanced``: computed over all intents) for its examples, 1 for the rest."""
    if class_weight is None:
        return None
    if class_weight == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        classes = np.unique(y)
        own = compute_class_weight("balanced", classes=classes, y=y)[np.searchsorted(classes, positive)]
    else:
        own = class_weight.get(positive, 1.0)
    return {True: float(own), False: 1.0}


def _work(task: tuple) -> tuple[int, np.ndarray, float, int]:
    index, clf, positive = task
    return (index, *_binary(clf, positive))


def _start_worker() -> None:
    try:
        os.nice(NICENESS)
    except OSError:
        pass


def fit_one_vs_rest(clf, X: csr_matrix, y: np.ndarray, workers: Optional[int] = None,
                    sample_weight: Optional[np.ndarray] = None):
    """Fit ``clf`` (a liblinear ``LogisticRegression``) on ``X``, ``y`` (each row weighing ``sample_weight``,
    default 1) as its own ``fit`` would; ``clf``.

    Two intents, one worker, or no ``fork`` start method: ``clf.fit`` itself.
    """
    y = np.asarray(y)
    classes = np.unique(y)
    workers = default_workers() if workers is None else workers
    if len(classes) <= 2 or workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return clf.fit(X, y, sample_weight=sample_weight)
    # Largest intents first: the longest fits start early and the workers finish together.
    order = sorted(range(len(classes)), key=lambda i: -int(np.sum(y == classes[i])))
    _shared.update(X=X, y=y, sample_weight=sample_weight)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, len(classes)), initializer=_start_worker) as pool:
            results = pool.imap_unordered(_work, [(i, clf, classes[i]) for i in order], chunksize=1)
            rows = {index: (coef, intercept, steps) for index, coef, intercept, steps in results}
    finally:
        _shared.clear()
    clf.classes_ = classes
    clf.coef_ = np.vstack([rows[i][0] for i in range(len(classes))])
    clf.intercept_ = np.array([rows[i][1] for i in range(len(classes))])
    clf.n_features_in_ = X.shape[1]
    clf.n_iter_ = np.array([rows[i][2] for i in range(len(classes))], dtype=np.int32)
    return clf
