"""A conversation survives a server crash (SIGKILL) and restart."""

from tests.support import ServerProcess, Shopper


async def test_conversation_survives_sigkill_and_restart(model_path, tmp_path):
    first = ServerProcess(tmp_path / "var", model_path).start()
    try:
        shopper = Shopper(first.url)
        session_id = await shopper.connect()
        assert "Germany" in (await shopper.ask("how long does shipping to Germany take?"))["text"]
        await shopper.close()
    finally:
        first.kill()

    second = ServerProcess(tmp_path / "var", model_path).start()
    try:
        shopper = Shopper(second.url)
        assert await shopper.connect(session_id=session_id) == session_id
        _, history = await shopper.expect("crossdesk:history")
        texts = [m["text"] for m in history["messages"]]
        assert texts[0] == "how long does shipping to Germany take?" and len(texts) == 2
        # Rasa's tracker survived too: the destination is remembered.
        reply = await shopper.ask("and how much is shipping?")
        assert "Germany" in reply["text"]
        await shopper.close()
    finally:
        second.stop()
