"""A story told in several messages is stored as its sealed parts and read back whole, in order,
by the handler's key (review B5); a story of one part stays the plain sealed box it always was."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PrivateKey

from services.reports.crypto import KeyRing, key_id
from services.reports.submission import PART_SEPARATOR, PARTS_MAGIC, open_narrative, pack_parts

PRIVATE = PrivateKey.generate()
CONSOLE = KeyRing(PRIVATE.public_key, {key_id(PRIVATE.public_key): PRIVATE})
BOT = KeyRing(PRIVATE.public_key)  # the bot holds the public key alone


@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=6))
def test_the_parts_come_back_joined_in_order(parts: list[str]) -> None:
    sealed = [(BOT.seal_text(part), BOT.current_id) for part in parts]
    blob, kid = pack_parts(sealed)
    assert kid == BOT.current_id
    assert open_narrative(CONSOLE, blob, kid) == PART_SEPARATOR.join(parts)
    for part in parts:
        assert part.encode() not in blob or len(part.encode()) < 4  # only ciphertext stored


def test_one_part_is_a_plain_sealed_box_as_before() -> None:
    box = BOT.seal_text("one message")
    blob, _kid = pack_parts([(box, BOT.current_id)])
    assert blob == box and not blob.startswith(PARTS_MAGIC)
    assert CONSOLE.open_text(blob, BOT.current_id) == "one message"  # older readers still work


def test_a_part_sealed_with_an_older_key_still_opens() -> None:
    old = PrivateKey.generate()
    both = KeyRing(PRIVATE.public_key, {key_id(p.public_key): p for p in (PRIVATE, old)})
    before = KeyRing(old.public_key)
    blob, kid = pack_parts(
        [(before.seal_text("before"), before.current_id), (BOT.seal_text("after"), BOT.current_id)]
    )
    assert open_narrative(both, blob, kid) == "before" + PART_SEPARATOR + "after"
