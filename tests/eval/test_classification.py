import pytest

from tenken.eval.classification import OTHER, classification_scores


def test_accuracy_and_confusion_matrix():
    s = classification_scores(["a", "a", "b", "c"], ["a", "b", "b", "a"], labels=["a", "b", "c"])
    assert s.accuracy == 0.5
    assert s.labels == ["a", "b", "c"]
    assert s.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert s.per_class_recall == {"a": 0.5, "b": 1.0, "c": 0.0}


def test_unknown_predictions_go_to_the_other_column():
    s = classification_scores(["a", "b"], ["a", "unknown"], labels=["a", "b"])
    assert s.labels == ["a", "b", OTHER]
    assert s.confusion.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]
    assert s.to_dict()["n"] == 2


def test_true_label_outside_the_list_is_an_error():
    with pytest.raises(ValueError, match="'z'"):
        classification_scores(["z"], ["a"], labels=["a"])
