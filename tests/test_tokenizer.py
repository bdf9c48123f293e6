"""The NLU tokenizer: scripts, offsets, and country names counted as one mark (bot/components.py)."""

from rasa.shared.nlu.training_data.message import Message

from bot.components import COUNTRY_MARK, CrossdeskTokenizer


def tokens(text: str) -> list[tuple[str, str, int]]:
    tokenizer = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config())
    return [(t.text, t.lemma, t.start) for t in tokenizer.tokenize(Message(data={"text": text}), "text")]


def test_any_country_name_is_counted_as_the_same_mark_and_the_text_is_kept():
    korea, japan = tokens("한국으로 배송 가능한가요?"), tokens("일본으로 배송 가능한가요?")
    assert [lemma for _, lemma, _ in korea] == [lemma for _, lemma, _ in japan] == [
        f"{COUNTRY_MARK}으로", "배송", "가능한가요"]
    assert korea[0][0] == "한국으로"  # entities and offsets still see the real words
    assert tokens("Versand nach Österreich?")[-1] == ("österreich", COUNTRY_MARK, 13)
    assert [lemma for _, lemma, _ in tokens("ship to the United States")][-2:] == [COUNTRY_MARK, COUNTRY_MARK]


def test_a_product_is_not_a_country_and_cjk_runs_stay_one_token():
    assert tokens("lighter 배송 가능?") == [("lighter", "lighter", 0), ("배송", "배송", 8), ("가능", "가능", 11)]
    assert tokens("ドイツまで何日？") == [("ドイツまで何日", f"{COUNTRY_MARK}まで何日", 0)]
