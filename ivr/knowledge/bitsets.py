"""Sets of index slots as Python ints (bit i set: slot i is in the set), and numbers per slot as bit planes.

A union or intersection over thousands of entries is then one C operation on a few kilobytes, and adding a
weight to every member of a set is a ripple-carry addition over the planes: the scores of all entries are
summed without a Python loop over the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def from_slots(slots: Iterable[int]) -> int:
    """The set of the given slots, built in a byte buffer: one big int at the end, not one per slot."""
    ordered = sorted(slots)
    if not ordered:
        return 0
    buffer = bytearray(ordered[-1] // 8 + 1)
    for slot in ordered:
        buffer[slot >> 3] |= 1 << (slot & 7)
    return int.from_bytes(buffer, "little")


def members(bits: int) -> Iterator[int]:
    """Every slot in the set, lowest first: byte by byte, skipping the empty ones."""
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for index, byte in enumerate(data):
        while byte:
            low = byte & -byte
            yield index * 8 + low.bit_length() - 1
            byte ^= low


def lowest(bits: int, count: int) -> list[int]:
    """The `count` lowest slots of the set: cheaper than `members` when only a few are wanted."""
    found: list[int] = []
    while bits and len(found) < count:
        low = bits & -bits
        found.append(low.bit_length() - 1)
        bits ^= low
    return found


def add(planes: list[int], bits: int, weight: int) -> None:
    """Adds the weight to the number of every slot in the set (planes[i]: the slots whose number has bit i)."""
    for shift in range(weight.bit_length()):
        if not weight >> shift & 1:
            continue
        carry, plane = bits, shift
        while carry:
            if plane >= len(planes):
                planes.extend([0] * (plane + 1 - len(planes)))
            planes[plane], carry = planes[plane] ^ carry, planes[plane] & carry
            plane += 1


def at_least(planes: list[int], value: int, within: int) -> int:
    """The slots of `within` whose number is at least the value (compared from the top bit down)."""
    greater, equal = 0, within
    for plane in reversed(range(max(len(planes), value.bit_length()))):
        bits = planes[plane] if plane < len(planes) else 0
        if value >> plane & 1:
            equal &= bits
        else:
            greater |= equal & bits
            equal &= ~bits
    return greater | equal


def best(planes: list[int], within: int, count: int) -> tuple[int, int]:
    """(above, tied): fewer than `count` slots of `within` with numbers above all others, and the slots that tie
    at the next number, from which the rest of the best `count` come (O'Neil and Quass's top-k on bit slices)."""
    above, tied = 0, within
    for plane in reversed(range(len(planes))):
        with_bit = tied & planes[plane]
        taken = above.bit_count() + with_bit.bit_count()
        if taken > count:
            tied = with_bit
            continue
        above |= with_bit
        tied &= ~planes[plane]
        if taken == count:
            return above, 0
    return above, tied


def value(planes: list[int], slot: int) -> int:
    return sum(1 << plane for plane, bits in enumerate(planes) if bits >> slot & 1)
