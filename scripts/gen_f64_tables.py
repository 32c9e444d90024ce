#!/usr/bin/env python3
"""Generates include/cuact/detail/f64_tables.hpp: the tables of the float64 exponential and
log(1 + e) forms (numeric.cuh: exp_neg_dd, log1p_unit_rows), computed with mpmath at 200 bits.
Run: python3 scripts/gen_f64_tables.py

EXP2_NEG: 2^(-j/32) for j = 0..31 as double-double pairs (hi, lo), and ln 2 / 32 split as
LN2_32_HI (38 significant bits: n * LN2_32_HI is exact for n < 2^15, every n of a in [0, 709])
plus LN2_32_LO.

LOG1P_PIECES: log(1 + e) for e in [0, 1]: row 0 for [0, 1/32), then eight rows per binade of e
from 1/32 up (row 1 + 8 b + j: [2^(b-5) (1 + j/8), 2^(b-5) (1 + (j+1)/8)), b = 0..4, j = 0..7;
e = 1 takes the last row), so the device finds the row from e's exponent and top three mantissa
bits with one shift and its center (the row's midpoint, 0 for row 0) from the row's bits. A row
is the polynomial c0 + c1 d + ... + c9 d^9 in d = e - center (d exact on the device: e and the
center share a binade, or the center is 0), stored as LOG1P_WIDTH = 12 doubles: c0_hi, c0_lo,
c1_hi, c1_lo, c2, ..., c9, six 16-byte pieces, stored piece-major (16-byte piece j of every
row, then piece j + 1: see main). With the data and exp_neg_dd's load a float64 softplus or
log_sigmoid element loads 120 bytes, within the 130 its L1 return leaves at the copy roof (six
binade rows of degree 12 with their centers stored took eight pieces, 152 bytes). c0 and c1 as
pairs: c1 d is up to half of the result, so c1 rounded to double alone would cost 2^-54 of it.
Row 0 has center 0 and c0 = 0, so it stays relative for the tiniest e; it is fitted as
log(1 + e) / e. Chebyshev fits (mpmath chebyfit) of degree 9, coefficients rounded to double,
the relative error of the rounded polynomial (exact arithmetic) asserted below 2^-57 on a dense
grid of each row.

GELU_G_PIECES, GELU_H_PIECES: exact GELU in float64 (cuact::Gelu) writes the upper tail mass
Q(s) = erfc(s / sqrt 2) / 2 as e^(-s^2/2) g(s), and its derivative's part Q(s) - s phi(s) as
e^(-s^2/2) h(s), h = g - s / sqrt(2 pi): g and h are smooth where Q and the derivative fall by
e^-72 over [0, 12.5]. Rows by round(8 s) for s < 3 (row k: s in [k/8 - 1/16, k/8 + 1/16], center
k/8, k = 0..24; row 24, center 3, reaches on to 3 + 1/8) and by round(4 s) beyond (row k + 12:
[k/4 - 1/8, k/4 + 1/8], center k/4, k = 13..50): the rows the device picks with one fma, d = s -
center exact (center 0, or s within a factor of two of it). A row is c0 + c1 d + ... + c9 d^9,
c0 and c1 as pairs (c1 d is up to half of the value), 12 doubles, six 16-byte pieces: with the
data and exp_neg_dd's one load, 120 bytes a float64 element loads, under the 130 its L1 return
leaves at the copy roof (degree 13 on rows twice as wide, 8 pieces, took 152). Stored
piece-major with a stride of GELU_ROW_STRIDE rows (pieces of rows 8m..8m+7 in one 128-byte line:
a warp's load touches only the lines of rows its lanes use). Chebyshev fits of degree 9, the
rounded polynomial's error asserted below 2^-57 of g, and of g + s / sqrt(2 pi) for h (the
derivative's larger term), and for g |c1| |d| below the binade of c0 (the device adds g's c0 and
c1 d by a fast two-sum; h's by a two-sum: h has a zero at s = 0.7518). h's rows are g's but for
c0 and c1 (h - g is a line), so GELU_H_PIECES holds only pieces 0 and 1.
"""
import pathlib

import mpmath as mp

mp.mp.prec = 200
DEGREE = 9
LOG1P_FIRST_BINADE = -5  # row 0 is [0, 2^-5)
LOG1P_SPLIT_BITS = 3  # eight rows per binade above it
ROWS = [(mp.mpf(0), mp.mpf(2) ** LOG1P_FIRST_BINADE, mp.mpf(0))]  # (lo, hi, center)
for b in range(LOG1P_FIRST_BINADE, 0):
    for j in range(2 ** LOG1P_SPLIT_BITS):
        lo = mp.mpf(2) ** b * (1 + mp.mpf(j) / 2 ** LOG1P_SPLIT_BITS)
        hi = mp.mpf(2) ** b * (1 + mp.mpf(j + 1) / 2 ** LOG1P_SPLIT_BITS)
        ROWS.append((lo, hi, (lo + hi) / 2))
WIDTH = 4 + DEGREE - 1  # c0 and c1 pairs, c2..cN
assert WIDTH % 2 == 0
BOUND = mp.mpf(2) ** -57


def split(v):
    hi = float(v)
    return hi, float(v - mp.mpf(hi))


def poly(coef, d):  # coef lowest power first, exact
    s = mp.mpf(0)
    for c in reversed(coef):
        s = s * d + c
    return s


def log1p_row(lo, hi, center):
    """c0 and c1 as pairs, c2..cN, of log(1 + center + d), and the rounded fit's worst error."""
    if center == 0:
        # log(1 + e) = e R(e): fit R, then shift its coefficients up one power.
        r = mp.chebyfit(lambda e: mp.log1p(e) / e if e != 0 else mp.mpf(1), [lo, hi], DEGREE,
                        error=True)[0]
        p = [mp.mpf(0)] + list(reversed(r))
    else:
        p = mp.chebyfit(lambda d: mp.log1p(center + d), [lo - center, hi - center], DEGREE + 1,
                        error=True)[0]
        p = list(reversed(p))  # lowest power first
    c0, c1 = split(p[0]), split(p[1])
    rest = [float(c) for c in p[2:]]
    coef = [mp.mpf(c0[0]) + mp.mpf(c0[1]), mp.mpf(c1[0]) + mp.mpf(c1[1])] + [mp.mpf(c) for c in rest]
    worst = mp.mpf(0)
    steps = 2000
    for i in range(steps + 1):
        e = lo + (hi - lo) * i / steps
        if e == 0:
            continue
        exact = mp.log1p(e)
        err = abs(poly(coef, e - center) - exact) / exact
        worst = max(worst, err)
    assert worst < BOUND, f"row [{lo}, {hi}): relative fit error {mp.nstr(worst, 5)}"
    return c0, c1, rest, worst


GELU_DEGREE = 9
GELU_PIECES = (4 + GELU_DEGREE - 1) // 2  # c0 and c1 pairs, c2..c9: 12 doubles
GELU_ROW_STRIDE = 64  # rows 0..62 used, padded to eight 128-byte lines per piece
GELU_ROWS = ([(max(mp.mpf(k) / 8 - mp.mpf(1) / 16, 0),
               mp.mpf(k) / 8 + (mp.mpf(1) / 8 if k == 24 else mp.mpf(1) / 16), mp.mpf(k) / 8)
              for k in range(25)] +
             [(mp.mpf(k) / 4 - mp.mpf(1) / 8, mp.mpf(k) / 4 + mp.mpf(1) / 8, mp.mpf(k) / 4)
              for k in range(13, 51)])
assert len(GELU_ROWS) <= GELU_ROW_STRIDE
RSQRT_2PI = 1 / mp.sqrt(2 * mp.pi)


def gelu_g(s):
    return mp.erfc(s / mp.sqrt(2)) * mp.exp(s * s / 2) / 2


def gelu_h(s):
    return gelu_g(s) - s * RSQRT_2PI


def gelu_row(f, lo, hi, center, p, fast_sum):
    """The 12 doubles of f's row (c0 pair, c1 pair, c2..c9) from its exact polynomial p (lowest
    power first) and the rounded row's worst scaled error."""
    c0, c1 = split(p[0]), split(p[1])
    rest = [float(c) for c in p[2:]]
    coef = [mp.mpf(c0[0]) + mp.mpf(c0[1]), mp.mpf(c1[0]) + mp.mpf(c1[1])] + [mp.mpf(c) for c in rest]
    half_width = max(hi - center, center - lo)
    # fast_two_sum(c0, c1 d) on the device for g: c1 d must not pass c0's binade (h has a zero
    # at s = 0.7518, inside the row of center 3/4: the device adds h's c0 and c1 d by a two-sum).
    assert not fast_sum or abs(c1[0]) * half_width * (1 + mp.mpf(2) ** -50) < mp.mpf(2) ** (mp.floor(mp.log(abs(c0[0]), 2)) + 1), \
        f"row [{lo}, {hi}]: c1 d passes the binade of c0"
    worst = mp.mpf(0)
    steps = 1000
    for i in range(steps + 1):
        s = lo + (hi - lo) * i / steps
        err = abs(poly(coef, s - center) - f(s)) / (gelu_g(s) + s * RSQRT_2PI * (f is gelu_h))
        worst = max(worst, err)
    assert worst < BOUND, f"row [{lo}, {hi}]: fit error {mp.nstr(worst, 5)}"
    return [c0[0], c0[1], c1[0], c1[1]] + rest, worst


def gelu_pieces():
    """g's rows, all 8 pieces, and h's: h = g - s / sqrt(2 pi) differs from g by a line, so its
    rows are g's with c0 and c1 moved, and only those two pieces are stored (the device reads
    pieces 2..7 from g's table)."""
    g_rows, h_rows, worst_g, worst_h = [], [], mp.mpf(0), mp.mpf(0)
    for lo, hi, center in GELU_ROWS:
        p = list(reversed(mp.chebyfit(lambda d: gelu_g(center + d), [lo - center, hi - center],
                                      GELU_DEGREE + 1, error=True)[0]))
        row, worst = gelu_row(gelu_g, lo, hi, center, p, True)
        g_rows.append(row)
        worst_g = max(worst_g, worst)
        ph = [p[0] - center * RSQRT_2PI, p[1] - RSQRT_2PI] + p[2:]
        row, worst = gelu_row(gelu_h, lo, hi, center, ph, False)
        assert row[4:] == g_rows[-1][4:], "h's high coefficients must round as g's"
        h_rows.append(row)
        worst_h = max(worst_h, worst)
    pad = [[0.0] * (2 * GELU_PIECES)] * (GELU_ROW_STRIDE - len(GELU_ROWS))

    def lines(rows, pieces, name):
        rows = rows + pad
        return [f"  {', '.join(f'{r[2 * j]!r}, {r[2 * j + 1]!r}' for r in rows)},"
                f"  /* {name} piece {j} of rows 0..{GELU_ROW_STRIDE - 1} */" for j in range(pieces)]

    return lines(g_rows, GELU_PIECES, "g"), lines(h_rows, 2, "h"), worst_g, worst_h


def main():
    ln2_32 = mp.log(2) / 32
    # 38 significant bits: ln2/32 = m 2^-42 with m < 2^38 after truncation.
    scale = mp.mpf(2) ** 42
    ln2_32_hi = float(mp.floor(ln2_32 * scale) / scale)
    ln2_32_lo = float(ln2_32 - mp.mpf(ln2_32_hi))
    exp_rows = []
    for j in range(32):
        hi, lo = split(mp.mpf(2) ** (-mp.mpf(j) / 32))
        exp_rows.append(f"  {hi!r}, {lo!r},  /* 2^(-{j}/32) */")
    table, worst_all = [], mp.mpf(0)
    for lo, hi, center in ROWS:
        c0, c1, rest, worst = log1p_row(lo, hi, center)
        worst_all = max(worst_all, worst)
        vals = [c0[0], c0[1], c1[0], c1[1]] + rest
        assert len(vals) == WIDTH
        table.append(vals)
    # Piece-major: 16-byte piece j of every row, then piece j + 1. A warp's lanes look up rows of
    # their own; a load of piece j then reads the lines of the rows its lanes use, 8 rows a line.
    log_rows = []
    for j in range(WIDTH // 2):
        body = ", ".join(f"{table[r][2 * j]!r}, {table[r][2 * j + 1]!r}" for r in range(len(ROWS)))
        log_rows.append(f"  {body},  /* piece {j} of rows 0..{len(ROWS) - 1} */")
    gelu_g_rows, gelu_h_rows, worst_g, worst_h = gelu_pieces()
    out = pathlib.Path(__file__).resolve().parent.parent / "include/cuact/detail/f64_tables.hpp"
    out.write_text(
        "// SPDX-License-Identifier: Apache-2.0\n"
        "//! @file cuact/detail/f64_tables.hpp\n"
        "//! Generated by scripts/gen_f64_tables.py (mpmath, 200 bits): do not edit by hand. The\n"
        "//! script's docstring describes the layout.\n"
        "#pragma once\n\n"
        f"#define CUACT_LN2_32_HI {ln2_32_hi!r}\n"
        f"#define CUACT_LN2_32_LO {ln2_32_lo!r}\n"
        f"#define CUACT_LOG1P_DEGREE {DEGREE}\n"
        f"#define CUACT_LOG1P_WIDTH {WIDTH}\n"
        f"#define CUACT_LOG1P_ROW_COUNT {len(ROWS)}\n"
        f"#define CUACT_LOG1P_FIRST_BINADE ({LOG1P_FIRST_BINADE})\n"
        f"#define CUACT_LOG1P_SPLIT_BITS {LOG1P_SPLIT_BITS}\n"
        f"//! Worst relative fit error of a row: {mp.nstr(worst_all, 4)} (bound 2^-57).\n"
        f"#define CUACT_GELU_DEGREE {GELU_DEGREE}\n"
        f"#define CUACT_GELU_PIECE_COUNT {GELU_PIECES}\n"
        f"#define CUACT_GELU_ROW_STRIDE {GELU_ROW_STRIDE}\n"
        f"#define CUACT_GELU_ROW_COUNT {len(GELU_ROWS)}\n"
        f"//! Worst scaled fit error of a GELU row: g {mp.nstr(worst_g, 4)}, h {mp.nstr(worst_h, 4)}"
        " (bound 2^-57).\n"
        "// clang-format off\n"
        "#define CUACT_EXP2_NEG_ROWS \\\n" + " \\\n".join(exp_rows) + "\n"
        "#define CUACT_LOG1P_PIECES \\\n" + " \\\n".join(log_rows) + "\n"
        "#define CUACT_GELU_G_PIECES \\\n" + " \\\n".join(gelu_g_rows) + "\n"
        "#define CUACT_GELU_H_PIECES \\\n" + " \\\n".join(gelu_h_rows) + "\n"
        "// clang-format on\n")
    print(f"wrote {out}; worst log1p row fit {mp.nstr(worst_all, 4)}, gelu g {mp.nstr(worst_g, 4)}, "
          f"h {mp.nstr(worst_h, 4)}")


if __name__ == "__main__":
    main()
