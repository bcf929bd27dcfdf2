from peervault.sync.debounce import Debouncer


def test_first_change_goes_at_once_followups_wait_for_the_window():
    d = Debouncer(1.0)
    assert d.due({"a"}, 0.0) == ({"a"}, None)
    ready, wake = d.due({"a"}, 0.3)  # a burst: held back
    assert ready == set() and wake == 1.0
    ready, wake = d.due({"a"}, 0.6)  # still one pending batch, same wake-up
    assert ready == set() and wake == 1.0
    assert d.due({"a"}, 1.0) == ({"a"}, None)  # window over: the batch goes


def test_keys_are_independent():
    d = Debouncer(1.0)
    d.due({"a"}, 0.0)
    ready, wake = d.due({"a", "b"}, 0.5)
    assert ready == {"b"} and wake == 1.0


def test_quiet_key_is_forgotten_after_the_window():
    d = Debouncer(1.0)
    d.due({"a"}, 0.0)
    assert d.due({"a"}, 5.0) == ({"a"}, None)


def test_new_keys_0_3_s_apart_each_go_at_once():
    """Issue 12's pattern: ten new notes 0.3 s apart, each its own key, none waits."""
    d = Debouncer(1.0)
    for i in range(10):
        assert d.due({f"n{i}"}, i * 0.3) == ({f"n{i}"}, None)


def test_repeats_of_one_key_batch_while_new_keys_go():
    d = Debouncer(1.0)
    assert d.due({"a"}, 0.0) == ({"a"}, None)
    assert d.due({"a", "b"}, 0.3) == ({"b"}, 1.0)  # a's follow-up waits, b is new
    assert d.due({"a", "c"}, 0.6) == ({"c"}, 1.0)
    assert d.due({"a"}, 1.0) == ({"a"}, None)  # a's saves go together at its window's end
    assert d.due({"b"}, 1.1) == (set(), 1.3)  # b's own window, from when it went
