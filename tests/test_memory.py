import ctypes
import platform

import pytest

from applications.core import epochs, memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@glibc_only
def test_free_heap_pages_go_back_to_the_system():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # 64 KB blocks come from the heap (below malloc's mmap threshold); the last one stays
    # allocated, so free() alone cannot shrink the heap from its top.
    blocks = [libc.malloc(64 * 1024) for _ in range(2000)]
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    for block in blocks[:-1]:
        libc.free(block)
    before = resident_mb()
    assert memory.release_free_memory() is True
    after = resident_mb()
    libc.free(blocks[-1])
    assert before - after > 80, (before, after)


def test_callback_releases_at_most_every_interval_and_before_evaluation(monkeypatch):
    calls, now = [], [100.0]
    monkeypatch.setattr(epochs, "release_free_memory", lambda: calls.append(now[0]))
    monkeypatch.setattr(epochs.time, "monotonic", lambda: now[0])
    callback = epochs.ReleaseFreeMemory(interval=0.5)
    for batch in range(10):  # a batch every 0.2 s
        callback.on_train_batch_end(batch)
        now[0] += 0.2
    assert calls == pytest.approx([100.0, 100.6, 101.2, 101.8])
    callback.on_test_begin()
    assert len(calls) == 5


def test_time_budget_callback_only_when_a_budget_is_set():
    assert epochs.budget_callbacks({"time_budget_minutes": 0.0}) == []
    assert epochs.budget_callbacks({}) == []
    (budget,) = epochs.budget_callbacks({"time_budget_minutes": 1.5})
    assert isinstance(budget, epochs.TimeBudget) and budget.seconds == 90


def test_budget_anneal_follows_the_cosine_of_the_elapsed_budget(monkeypatch):
    import keras

    now = [50.0]
    monkeypatch.setattr(epochs.time, "monotonic", lambda: now[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    (budget,) = epochs.budget_callbacks({"time_budget_minutes": 1.0, "budget_anneal": True})
    budget.set_model(model)
    budget.on_train_begin()
    seen = []
    for seconds in (0, 30, 60, 90):  # the share is capped at the budget's end
        now[0] = 50.0 + seconds
        budget.on_train_batch_begin(0)
        seen.append(float(model.optimizer.learning_rate))
    assert seen == pytest.approx([2e-3, 1.1e-3, 2e-4, 2e-4], rel=1e-5)
    budget.on_train_end()
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)


def test_a_resumed_budget_goes_on_from_what_earlier_runs_spent(monkeypatch):
    import types

    import keras
    import tensorflow as tf

    now = [100.0]
    monkeypatch.setattr(epochs.time, "monotonic", lambda: now[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    model.optimizer.learning_rate = 1.3e-3  # the annealed rate a checkpoint restores
    # The run's TrainingState restored 30 s of earlier training from its checkpoint.
    state = types.SimpleNamespace(seconds=tf.Variable(30.0, dtype=tf.float64))
    (budget,) = epochs.budget_callbacks({"time_budget_minutes": 1.0, "budget_anneal": True,
                                         "learning_rate": 2e-3}, state)
    budget.set_model(model)
    budget.on_train_begin()
    budget.on_train_batch_begin(0)  # half the budget spent: the cosine's middle
    assert float(model.optimizer.learning_rate) == pytest.approx(1.1e-3, rel=1e-5)
    budget.on_train_end()
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)
    # With a state, the state stops the run (counting resumes); a trial has none.
    (trial,) = epochs.budget_callbacks({"time_budget_minutes": 1.0})
    trial.set_model(model)
    trial.on_train_begin()
    trial.on_epoch_begin(0)
    now[0] += 25.0
    trial.on_epoch_end(0)  # 25 s spent, another 25 s epoch fits
    assert not model.stop_training
    trial.on_epoch_begin(1)
    now[0] += 26.0
    trial.on_epoch_end(1)  # 51 s spent, another 26 s epoch would overrun the 60
    assert model.stop_training


def test_without_anneal_the_budget_leaves_the_rate_alone(monkeypatch):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    (budget,) = epochs.budget_callbacks({"time_budget_minutes": 1.0})
    budget.set_model(model)
    budget.on_train_begin()
    budget.on_train_batch_begin(0)
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)


def test_budget_anneal_leaves_a_scheduled_rate_and_refuses_lr_decay(monkeypatch):
    import keras

    from applications.core.config import UsageError
    from applications.language_model.config import LanguageModelConfig
    from applications.translator.config import TranslatorConfig

    now = [0.0]
    monkeypatch.setattr(epochs.time, "monotonic", lambda: now[0])
    warmup = keras.optimizers.schedules.CosineDecay(0.0, 1, alpha=1.0, warmup_target=1e-3,
                                                    warmup_steps=10)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(warmup), loss="mse")
    budget = epochs.TimeBudget(60, anneal=True)
    budget.set_model(model)
    budget.on_train_begin()
    now[0] = 30.0
    budget.on_train_batch_begin(0)  # no error, and the warm-up keeps its schedule
    assert model.optimizer._learning_rate is warmup
    # A Transformer language model with a warm-up: its recipe's budget_anneal stands aside.
    LanguageModelConfig.from_dict({"budget_anneal": True, "warmup_steps": 200}, "cfg.json")
    with pytest.raises(UsageError, match="budget_anneal needs lr_decay=1"):
        TranslatorConfig.from_dict({"budget_anneal": True}, "cfg.json")  # lr_decay 0.5
    TranslatorConfig.from_dict({"budget_anneal": True, "lr_decay": 1.0}, "cfg.json")
