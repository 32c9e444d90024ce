#!/usr/bin/env python3
"""Generates include/cuact/detail/poly_f32_table.hpp: piecewise polynomials for float32 forms
whose direct evaluation in float would cancel (GELU' and its kin vanish at an interior x0) or
needs erfc. Fitted with mpmath (Chebyshev, 60 digits), then rounded to float.
Run: python3 scripts/gen_poly_f32_table.py

Every table covers [x_first, x_first + rows) in unit rows; row k holds the degree-9 polynomial
in d = x - (x_first + k + 1/2), d in [-1/2, 1/2], as twelve floats: c0_hi, c0_lo, c1_hi, c1_lo,
c2..c9 (c0 and c1 as float pairs: they carry the result; three 16-byte loads, 48 bytes of L1
traffic per element and lookup, no padding). The array
is stored piece-major: the first 16-byte piece of every row, then every second piece, and so on
(CUACT_POLY_F32_ROW_COUNT rows). A warp's lanes look up rows of their own, and a load gathers
piece j of up to 32 rows: piece-major, those rows' pieces sit next to each other and the gather
touches a few 128-byte lines of L1; row-major, each row's piece is 48 bytes from the next one's
and the same gather touches about twice as many (every line a separate L1 wavefront).
A table whose function has a simple zero x0 in its range holds f(x) / (x - x0) in the row of
x0, and x0 as three floats, and two flags: whether every row allows a fast two-sum in the c1
and in the c0 step (fast_steps below). A table's variable need not be the op's x: GELU's run in
w = a^2 / 2 + 2 a, GELU-tanh's derivative in v = 2u(x) (see each below), computed on the device
as float pairs (numeric.cuh, poly_f32_eval of a FloatPair). A table that reaches f's subnormal
range holds 2^64 f (`scale`): its coefficients stay normal, and the float32 forms scale the
product back once. Relative fit error below 2^-27 in every row (asserted; degree 11, a fourth
load per lookup, reached 2^-31; tanh(a) / a in [0, 1), 2^-26.7, is the one row allowed more:
FIT_BOUND).

The functions (a = |x|, Q(a) = 1 - Phi(a), s = sigmoid):
  gelu_q       2^64 Q(a): GELU(x) = x Q(|x|) for x <= 0                     w in [0, 135)
  gelu_phi     2^64 Phi(a): GELU(x) = x Phi(x) for x > 0                     w in [0, 135)
  gelu_e       2^64 (Q(a) - a phi(a)): GELU'(-a) = E, GELU'(a) = 1 - E       w in [0, 111)
  silu_d       silu'(x) = s (1 + x (1 - s))                                 x in [-24, 22)
  mish_d       mish'(x) = t + x s (1 - t^2), t = tanh(softplus(x))         x in [-24, 13)
  gelu_tanh_d  2^64 GELU-tanh'(x) = s + x s (1 - s) 2u', s = sigmoid(2u)     v in [-88, 40)
  softplus_l   L(a) = log(1 + e^-a): softplus(x) = max(x, 0) + L(|x|)       a in [0, 23)
  sigmoid_s    2^64 S(x), S = sigmoid: sigmoid, silu = x S(x), GELU-tanh = x S(2u)  x in [-112, 19)
  mish_t       2^64 T(x), T = tanh(softplus(x)): mish = x T(x)              x in [-112, 10)
  tanh_r       R(a) = tanh(a) / a: tanh(x) = x R(|x|)                       a in [0, 10)
Above each range's end the function is within 2^-27 of 1 (asserted) but for GELU's (the float32
forms select x or dy past x = 5.6 and 7), L (softplus is x above 16, e^x below -22) and R (tanh
is +-1 past 9.1). Below the start: the sigmoid and mish tables reach where the results round to
0; GELU-tanh' below v = -88 (x < -9.9) and silu' and mish' below -24 take the double form. The
float evaluation (numeric.cuh, poly_f32) rounds the Horner steps of c2..c9, whose terms sum to
at most 1.3 |f| in every row (asserted: the error this adds stays under 2^-24 relative); in x,
that bound ended GELU-tanh's derivative table at -3 (f' changes 35-fold across [-4, -3)), in v
it holds to the end.
"""
import pathlib
import struct

import mpmath as mp

mp.mp.dps = 60
DEGREE = 9
WIDTH = 12  # floats per row: 2 + 2 + (DEGREE - 1), three 16-byte pieces


def f32(v):
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def split(v):
    hi = f32(v)
    return hi, f32(v - mp.mpf(hi))


def sig(x):
    return 1 / (1 + mp.exp(-x))


def gelu_n(a):
    return mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2)


def softplus_l(a):
    return mp.log1p(mp.exp(-a))


def sigmoid_s(x):
    return sig(x)


def mish_t(x):
    return mp.tanh(mp.log1p(mp.exp(x)))


def tanh_r(a):
    return mp.mpf(1) if a == 0 else mp.tanh(a) / a


def silu_d(x):
    s = sig(x)
    return s * (1 + x * (1 - s))


def mish_d(x):
    t = mp.tanh(mp.log1p(mp.exp(x)))
    return t + x * sig(x) * (1 - t * t)


K, CUBIC = mp.sqrt(2 / mp.pi), mp.mpf("0.044715")


def gelu_tanh_d(x):
    s = sig(2 * K * (x + CUBIC * x**3))
    return s + x * s * (1 - s) * 2 * K * (1 + 3 * CUBIC * x * x)


# GELU's tables run in w = a^2 / 2 + 2 a (a = |x|), not in a: Q(a) falls as e^(-a^2/2), so a unit
# row in a spans a factor e^a, beyond what a degree-9 fit holds to 2^-27 past a = 3, while a unit
# row in w spans at most a factor e (d log Q / dw = -a / (a + 2) + ...). The 2 a keeps a(w) =
# sqrt(4 + 2 w) - 2 analytic well past the first row (its branch point is at w = -2): a^2 / 2
# alone would put it at the end of that row. w is exact on the device as a float pair.
def a_of_w(w):
    return mp.sqrt(4 + 2 * w) - 2


def gelu_q_w(w):
    return mp.erfc(a_of_w(w) / mp.sqrt(2)) / 2


def gelu_phi_w(w):
    return mp.erfc(-a_of_w(w) / mp.sqrt(2)) / 2


def gelu_e_w(w):
    a = a_of_w(w)
    return mp.erfc(a / mp.sqrt(2)) / 2 - a * mp.exp(-a * a / 2) / mp.sqrt(2 * mp.pi)


# GELU-tanh's derivative runs in v = 2u(x) = 2k (x + c x^3), the argument of its sigmoid: there
# a unit row spans a factor e at most, as in the sigmoid table, where a unit row in x spans up to
# e^30 in the left tail. x(v) is the one real root of the cubic (Cardano, refined by Newton);
# it is analytic on the real axis (v' > 0), its nearest singularities 2.9 away from it.
def x_of_v(v):
    p, q = 1 / CUBIC, -v / (2 * K * CUBIC)
    r = mp.sqrt(q * q / 4 + p**3 / 27)
    x = mp.cbrt(-q / 2 + r) - mp.cbrt(q / 2 + r)
    for _ in range(3):
        x -= (2 * K * (x + CUBIC * x**3) - v) / (2 * K * (1 + 3 * CUBIC * x * x))
    return x


def gelu_tanh_d_v(v):
    return gelu_tanh_d(x_of_v(v))


# name, function, x_first, rows, initial guess of the zero (None: no zero in range), scale: the
# rows hold 2^scale f (the tables that reach f's subnormal range: coefficients stay normal, and
# the float32 forms take products of the scaled value, scaled back once).
TABLES = [
    ("GELU_Q", gelu_q_w, 0, 135, None, 64),
    ("GELU_PHI", gelu_phi_w, 0, 135, None, 64),
    ("GELU_E", gelu_e_w, 0, 111, 1.79, 64),
    ("SILU_D", silu_d, -24, 46, -1.28, 0),
    ("MISH_D", mish_d, -24, 37, -1.19, 0),
    ("GELU_TANH_D", gelu_tanh_d_v, -88, 128, -1.2, 64),
    ("SOFTPLUS_L", softplus_l, 0, 23, None, 0),
    ("SIGMOID_S", sigmoid_s, -112, 131, None, 64),
    ("MISH_T", mish_t, -112, 122, None, 64),
    ("TANH_R", tanh_r, 0, 10, None, 0),
]
# Rows whose fit may miss 2^-27: tanh(a) / a in [0, 1) fits to 2^-26.7 at degree 9 (its poles at
# +-i pi/2 are near): 0.15 ulp of a float32 result at worst.
FIT_BOUND = {("TANH_R", 0): mp.mpf(2)**-26.5}


def fmt(v):
    if v == 0:
        return "0.0f"
    mantissa, exponent = v.hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def fast_steps(row):
    """Whether the row's two exact Horner steps (numeric.cuh, poly_f32) may use a fast two-sum,
    which needs the larger addend first: |c1| >= |d q| and |c0| >= |d (c1 + d q)| over the row,
    q the float Horner value of c2..c9 at d (with 1% to spare for q's roundings)."""
    c0, c1, cs = row[0], row[2], row[4:]
    w1 = w0 = 0.0
    for i in range(257):
        d = -0.5 + i / 256
        q = 0.0
        for c in reversed(cs):
            q = q * d + c
        w1, w0 = max(w1, abs(d * q)), max(w0, abs(d * (c1 + d * q)))
    return abs(c1) >= 1.01 * w1, abs(c0) >= 1.01 * w0


rows, macros = [], []
for name, fn, x_first, count, guess, scale in TABLES:
    x0 = mp.findroot(fn, guess) if guess is not None else None
    root_row = int(mp.floor(x0)) - x_first if x0 is not None else -1
    if x0 is not None:  # x - x0's fast two-sum (numeric.cuh, poly_f32_eval): row within 2 |x0|
        assert max(abs(mp.floor(x0)), abs(mp.floor(x0) + 1)) <= 2 * abs(x0), name
    if fn not in (gelu_q_w, gelu_phi_w, gelu_e_w, softplus_l, tanh_r):  # within 2^-27 of 1 past the end
        end = x_first + count
        assert all(abs(fn(end + i / 8) - 1) < mp.mpf(2)**-27 for i in range(200)), name
    first_row = len(rows)
    fast_c1 = fast_c0 = True  # see fast_steps()
    for k in range(count):
        center = x_first + k + mp.mpf(1) / 2
        g = (lambda d, c=center: fn(c + d) / (c + d - x0) * 2**scale) if k == root_row else (
            lambda d, c=center: fn(c + d) * 2**scale)
        poly, _ = mp.chebyfit(g, [-0.5, 0.5], DEGREE + 1, error=True)
        worst = max(abs(mp.polyval(poly, d) / g(d) - 1) for d in [-0.5 + i / 256 for i in range(257)])
        assert worst < FIT_BOUND.get((name, k), mp.mpf(2)**-27), (name, k, float(mp.log(worst, 2)))
        c = list(reversed(poly))  # c[j] multiplies d^j
        amp = max(sum(abs(c[j]) * abs(d)**j for j in range(2, DEGREE + 1)) / abs(mp.polyval(poly, d))
                  for d in [-0.5 + i / 64 for i in range(65)])
        assert amp < 1.3, (name, k, float(amp))
        row = [*split(c[0]), *split(c[1])] + [f32(v) for v in c[2:]]
        assert len(row) == WIDTH
        c1_ok, c0_ok = fast_steps(row)
        fast_c1, fast_c0 = fast_c1 and c1_ok, fast_c0 and c0_ok
        rows.append((row, f"{name} x in [{x_first + k}, {x_first + k + 1})"))
    if x0 is None:
        root = [0.0, 0.0, 0.0]
    else:
        root = [f32(x0)]
        root.append(f32(x0 - mp.mpf(root[0])))
        root.append(f32(x0 - mp.mpf(root[0]) - mp.mpf(root[1])))
    macros.append(f"#define CUACT_POLY_F32_{name} {first_row}, {x_first}, {count}, {root_row}, "
                  f"{{{', '.join(fmt(v) for v in root)}}}, "
                  f"{str(fast_c1).lower()}, {str(fast_c0).lower()}\n")

# The 16-bit GELU forward (cheaper: no table) takes N(a) = t g(t) with t = 4 / (4 + a), a in
# [0, 14.5]: one polynomial of degree 9 in t (fit 2^-26; the float evaluation, t's rounding
# included, about 2^-22, far below a 16-bit half ulp).
T_LO = mp.mpf(4) / (4 + mp.mpf("14.5"))


def gelu16_macro(name, fn, terms, bound):
    """fn(a) = t g(t) over a in [0, 14.5]: g fitted with `terms` coefficients, relative fit error
    asserted below `bound`, as the macro CUACT_GELU16_<name>_POLY (highest power first)."""
    g, _ = mp.chebyfit(lambda t: fn(4 / t - 4) / t, [T_LO, 1], terms, error=True)
    worst = max(abs(mp.polyval(g, t) / (fn(4 / t - 4) / t) - 1)
                for t in [T_LO + (1 - T_LO) * i / 512 for i in range(513)])
    assert worst < bound, (name, float(mp.log(worst, 2)))
    macros.append(f"#define CUACT_GELU16_{name}_POLY " + ", ".join(fmt(f32(c)) for c in g) + "\n")


gelu16_macro("N", gelu_n, 10, mp.mpf(2)**-25)

# The 16-bit GELU forward's own N: M(a) = Q(a) / 2^(C a^2) with C = -log2(e) / 2 as the float the
# kernel multiplies a^2 by (half the float nearest log2 e, exact). 2^(C a^2) then stands for
# e^(-a^2/2) with C's rounding folded into the fit (up to 2^-19.5 at a = 14.5): the kernel needs no
# low part of C. Same form, t g(t), same range, degree 8 (fit 2^-22.8: with the float evaluation
# about 2^-21.5, still far below a 16-bit half ulp; one step fewer than N's).
C16 = -mp.mpf(f32(mp.log(mp.e, 2))) / 2


def gelu16_m(a):
    return mp.erfc(a / mp.sqrt(2)) / 2 / mp.power(2, C16 * a * a)


gelu16_macro("M", gelu16_m, 9, mp.mpf(2)**-22.5)

# Piece-major: piece j (floats 4j..4j+3) of every row, for j = 0..3.
pieces = [f"  {', '.join(fmt(v) for v in row[4 * j:4 * j + 4])},  /* {label}, piece {j} */"
          for j in range(WIDTH // 4) for row, label in rows]

out = pathlib.Path(__file__).resolve().parent.parent / "include/cuact/detail/poly_f32_table.hpp"
out.write_text(
    "// SPDX-License-Identifier: Apache-2.0\n"
    "//! @file cuact/detail/poly_f32_table.hpp\n"
    "//! Generated by scripts/gen_poly_f32_table.py (mpmath): do not edit by hand. See the script\n"
    "//! for what the rows hold and why they are stored piece-major. Each table: first row, x_first,\n"
    "//! rows, root row (-1: none), root.\n"
    "#pragma once\n\n"
    "// clang-format off\n" + "".join(macros) +
    f"#define CUACT_POLY_F32_ROW_COUNT {len(rows)}\n"
    "#define CUACT_POLY_F32_PIECES \\\n" + " \\\n".join(pieces) + "\n"
    "// clang-format on\n")
print(f"wrote {out} ({len(rows)} rows)")
