"""Long messages: the sentence chooser between a story and the question, and the split's typo/long dev rows (in-process)."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.components import SENTENCE_OF, SentenceIntentChooser
from bot.heldout import CONTEXT_FILE
from bot.split_eval import CONTEXT_DEV_FILE, noisy_rows, pipeline_options

SERVED = {**SentenceIntentChooser.get_default_config(), **pipeline_options("bot.components.SentenceIntentChooser")}


def chosen(whole: tuple[str, float], parts: list[tuple[str, str, float]]) -> str:
    """The intent the served chooser gives a message classified ``whole`` with sentences ``parts``."""
    message = Message(data={"text": " ".join(text for text, _, _ in parts),
                            "intent": {"name": whole[0], "confidence": whole[1]}})
    sentences = [Message(data={"text": text, SENTENCE_OF: id(message), "intent": {"name": name, "confidence": c},
                               "intent_ranking": [{"name": name, "confidence": c}]}) for text, name, c in parts]
    return SentenceIntentChooser(SERVED).process([message] + sentences)[0].get("intent")["name"]


def test_a_story_sentence_taken_for_off_topic_does_not_decline_the_question_after_it():
    # (the fixed split's en long rows: 200 of 717 declined this way; "birthday" reads as off-topic)
    parts = [("I bought a couple of things from you for my sister's birthday.", "out_of_scope", 0.93),
             ("can i still change the delivery address", "change_order", 0.81), ("Thanks in advance.", "thank", 0.9)]
    assert chosen(("out_of_scope", 0.55), parts) == "change_order"


def test_an_off_topic_question_after_a_shop_story_is_still_declined():
    parts = [("My parcel arrived yesterday.", "delivery_problem", 0.86),
             ("Can you tell me who won the football match last night?", "out_of_scope", 0.96)]
    assert chosen(("out_of_scope", 0.32), parts) == "out_of_scope"


def test_the_split_scores_every_test_row_with_typos_and_every_question_inside_dev_context():
    test = [("en", Message(data={"text": "where is my parcel", "intent": "order_tracking"})),
            ("en", Message(data={"text": "hello", "intent": "greet"}))]
    rows = noisy_rows(test)
    typo = [m.get("text") for _, m in rows if m.get("variant") == "typo"]
    long = [m.get("text") for _, m in rows if m.get("variant") == "long"]
    assert len(typo) == 2 and "where is my parcel" not in typo and "hello" not in typo
    assert len(long) == 1 and "where is my parcel" in long[0] and len(long[0]) > 40  # (greetings are not questions)
    assert CONTEXT_DEV_FILE != CONTEXT_FILE  # (never the held-out context sentences)
