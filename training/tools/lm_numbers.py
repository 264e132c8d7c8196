#!/usr/bin/env python3
"""Writes lines of numbers in the formats people write by hand: dates, times, amounts,
phone numbers, percentages, fractions, ranges, reference numbers, measures.

English prose (the LM's other corpora) almost never writes "27/02/1963" or "555-0143", so
an LM trained on prose alone pushes a beam search to read a date's slashes as ones. These
lines teach the LM the shapes of such numbers. They come from this script's own templates
and Python's random module, not from Inkling's synthetic-text generator, so they share
formats with the synthetic test lines but no text (see the decoding section of engine/README.md).

    python3 training/tools/lm_numbers.py OUT.txt [LINES] [SEED]     (defaults: 40000 lines, seed 11)
"""
import random
import sys

MONTHS = ("January February March April May June July August September October "
          "November December").split()
WORDS = ("on at by due from until paid total invoice call room order ref date time "
         "price cost balance meeting flight deposit page item tel fax no. and to or "
         "approx. about est. net km kg cm mm m g ml l h min").split()
UNITS = ["km", "kg", "cm", "mm", "m", "g", "ml", "l", "h", "min", "s", "mph", "lb", "oz", "ft"]


def dig(r, n):
    return "".join(r.choice("0123456789") for _ in range(n))


def pick(r, forms):
    """One of `forms` (functions of r), drawn uniformly, applied."""
    return forms[r.randrange(len(forms))](r)


def number(r):
    """A plain number: integer, decimal or thousands-grouped."""
    return pick(r, (
        lambda r: str(r.randrange(0, 100)),
        lambda r: str(r.randrange(100, 100000)),
        lambda r: f"{r.randrange(0, 1000)}.{dig(r, r.choice((1, 2, 2, 3)))}",
        lambda r: f"{r.randrange(1, 1000)},{dig(r, 3)}",
        lambda r: f"{r.randrange(1, 100)},{dig(r, 3)},{dig(r, 3)}",
    ))


def date(r):
    d, m = r.randrange(1, 32), r.randrange(1, 13)
    y4 = r.randrange(1900, 2100)
    y = r.choice((str(y4), f"{y4 % 100:02}"))
    month = MONTHS[m - 1]
    return pick(r, (
        lambda r: f"{d}/{m}/{y}",
        lambda r: f"{d:02}/{m:02}/{y}",
        lambda r: f"{m}/{d}/{y}",
        lambda r: f"{y4}-{m:02}-{d:02}",
        lambda r: f"{d:02}.{m:02}.{y}",
        lambda r: f"{d:02}-{m:02}-{y}",
        lambda r: f"{month} {d}, {y4}",
        lambda r: f"{d} {month[:3]} {y4}",
    ))


def time(r):
    h, mi = r.randrange(0, 24), r.randrange(0, 60)
    return pick(r, (
        lambda r: f"{h}:{mi:02}",
        lambda r: f"{h:02}:{mi:02}",
        lambda r: f"{h % 12 + 1}:{mi:02} {r.choice(('am', 'pm', 'AM', 'PM'))}",
        lambda r: f"{h:02}:{mi:02}:{r.randrange(60):02}",
    ))


def amount(r):
    whole = r.choice((r.randrange(0, 100), r.randrange(100, 10000), r.randrange(1000, 1000000)))
    grouped = f"{whole:,}" if r.random() < 0.5 else str(whole)
    value = f"{grouped}.{dig(r, 2)}" if r.random() < 0.8 else grouped
    return pick(r, (
        lambda r: f"${value}",
        lambda r: f"{r.choice('€£$')}{value}",
        lambda r: f"{value} {r.choice(('EUR', 'USD', 'GBP', '€', '$'))}",
        lambda r: value,
    ))


def phone(r):
    return pick(r, (
        lambda r: f"{dig(r, 3)}-{dig(r, 4)}",
        lambda r: f"{dig(r, 3)}-{dig(r, 3)}-{dig(r, 4)}",
        lambda r: f"({dig(r, 3)}) {dig(r, 3)}-{dig(r, 4)}",
        lambda r: f"+{r.randrange(1, 99)} {dig(r, 2)} {dig(r, 4)} {dig(r, 4)}",
        lambda r: f"{dig(r, 4)} {dig(r, 3)} {dig(r, 3)}",
    ))


def _range(r):
    a = r.randrange(0, 500)
    return f"{a}-{a + r.randrange(1, 500)}"


def other(r):
    return pick(r, (
        lambda r: f"{r.randrange(0, 101)}%",
        lambda r: f"{r.randrange(1, 10)}/{r.randrange(2, 17)}",
        _range,
        lambda r: f"#{dig(r, r.randrange(2, 7))}",
        lambda r: f"{number(r)} {r.choice(UNITS)}",
        lambda r: f"{r.randrange(-30, 45)}°C",
        lambda r: f"{dig(r, 4)} {dig(r, 4)} {dig(r, 4)} {dig(r, 4)}",
    ))


KINDS = (number, date, time, amount, phone, other)


def line(r):
    parts = []
    for _ in range(r.choice((1, 1, 2, 3, 4))):
        if r.random() < 0.35:
            parts.append(r.choice(WORDS))
        parts.append(r.choice(KINDS)(r))
    return " ".join(parts)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 11)
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(count):
            f.write(line(r) + "\n")


if __name__ == "__main__":
    main()
