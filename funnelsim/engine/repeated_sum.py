"""A float added to a total many times, rounded after each addition, in O(log) steps.

A team's effective capacity is a sum of one term per present seat, taken in seat order
(``SeatTeam.effective_capacity``). Long runs of seats share a term (fully ramped heads,
heads hired together), so the sum can be taken run by run; ``add_repeatedly`` gives
exactly the float a loop adding the term one seat at a time would give, without the loop.

Within one binade of the total (``[2**(e-1), 2**e)``, one spacing u between floats) every
addition of a term t rounds t to the same multiple of u, unless t sits exactly half way
between two multiples (a tie, rounded to even, which depends on the total). So the loop
moves by a fixed step until the total would leave the binade: those steps are taken in
one multiplication, the crossing and any tie one addition at a time. A total crosses at
most one binade per crossing, so the work is O(number of binades), at most ~2000 and in
practice the handful between a total's first term and its end.
"""

from __future__ import annotations

import math

_MANTISSA_BITS = 53


def add_repeatedly(total: float, term: float, count: int) -> float:
    """``total + term + term + ...`` (``count`` additions), rounded as a loop rounds it.

    Both are finite and non-negative. With integers below 2**53 every partial sum is exact
    and the result is one multiplication.
    """
    if count <= 0:
        return total
    if total.is_integer() and term.is_integer() and total + count * term < 2.0**_MANTISSA_BITS:
        return total + count * term
    numerator, denominator = term.as_integer_ratio()
    while count > 0:
        if count == 1 or total == 0.0 or term >= total:
            total += term  # the total at least doubles, or this is the last addition
            count -= 1
            continue
        # Units of the spacing u of the total's binade: the total is an integer in
        # [2**52, 2**53) and the binade ends at 2**53.
        shift = _MANTISSA_BITS - math.frexp(total)[1]
        units = int(math.ldexp(total, shift))
        top, bottom = numerator << max(shift, 0), denominator << max(-shift, 0)
        whole, rest = divmod(top, bottom)
        if 2 * rest == bottom:
            total += term  # a tie: rounded to even, which depends on the total
            count -= 1
            continue
        step = whole + (2 * rest > bottom)
        if step == 0:
            return total  # the term is below half a spacing: no addition changes the total
        # Additions i = 0, 1, ... stay in the binade while units + i * step + term < 2**53.
        room = ((1 << _MANTISSA_BITS) - units) * bottom - top
        if room <= 0:
            total += term  # this addition leaves the binade
            count -= 1
            continue
        steps = min(count, -(-room // (step * bottom)))
        total = math.ldexp(float(units + steps * step), -shift)
        count -= steps
    return total
