#!/usr/bin/env python3
"""Independent reference values for the RDP accountant at fractional orders.

Run from the repository root (needs only mpmath; takes about a minute):

    python3 test/privacy/vectors/rdp_frac_mpmath.py

Its output is pasted into test/privacy/accountant.test.ts; rerun it and paste
again if the cases below change. Nothing here uses the binomial series that
privacy/accountant/rdp.ts evaluates: A_alpha is integrated numerically from
its definition (Mironov, Talwar & Zhang 2019, "Renyi Differential Privacy of
the Sampled Gaussian Mechanism", Sec. 3):

    mu0 = N(0, s^2),  mu = (1 - q) mu0 + q N(1, s^2)
    A_alpha = E_{x ~ mu0}[(mu(x) / mu0(x))^alpha]
            = int phi_s(x) ((1 - q) + q exp((2x - 1) / (2 s^2)))^alpha dx
    RDP of one step: eps(alpha) = log(A_alpha) / (alpha - 1)

and the RDP -> (eps, delta) conversion is the one privacy/accountant/
conversion.ts implements (Canonne, Kamath & Steinke 2020, Prop. 12; Balle et
al. 2020, Eq. 20):

    eps(delta) = min over orders a > 1.01 of  r(a) + log(1 - 1/a) - log(delta a) / (a - 1)

(with eps = 0 for an order whose r satisfies delta^2 + expm1(-r) > 0, a bound
through the KL divergence; it does not arise in the case below).
"""

import mpmath as mp

mp.mp.dps = 50


def log_integrand(x, q, s, a):
    """log of phi_s(x) * ((1 - q) + q exp((2x - 1) / (2 s^2)))^a."""
    u = (2 * x - 1) / (2 * s**2)
    # log((1 - q) + q e^u), written to stay finite for large |u|
    if u > 0:
        lmix = u + mp.log(q + (1 - q) * mp.exp(-u))
    else:
        lmix = mp.log((1 - q) + q * mp.exp(u))
    return -x**2 / (2 * s**2) - mp.log(s * mp.sqrt(2 * mp.pi)) + a * lmix


def peak(q, s, a):
    """The larger local maximum of the integrand: root of x = a w(x) with
    w(x) = q e^u / ((1 - q) + q e^u), found by bisection on [0, a]."""
    def g(x):
        u = (2 * x - 1) / (2 * s**2)
        w = 1 / (1 + (1 - q) / q * mp.exp(-u))
        return x - a * w
    lo, hi = mp.mpf(0), mp.mpf(a)
    if g(hi) <= 0:
        return hi
    for _ in range(200):
        mid = (lo + hi) / 2
        if g(mid) > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def breakpoints(q, s, a):
    """Split the real line around every place the integrand can be peaked:
    x = 0 (the mu0 bump), the crossover z0 = s^2 log(1/q - 1) + 1/2, x = a and
    the numerically found peak, each with points a few s either side."""
    z0 = s**2 * mp.log(1 / q - 1) + mp.mpf(1) / 2
    centres = [mp.mpf(0), z0, mp.mpf(a), peak(q, s, a)]
    pts = set()
    for c in centres:
        for k in (0, 1, 2, 4, 8, 16, 32, 64):
            pts.add(c + k * s)
            pts.add(c - k * s)
    return sorted(pts)


def log_a(q, s, a, method="tanh-sinh"):
    """log(A_alpha) by quadrature, scaled by the integrand's peak so huge
    orders (log A ~ 1e6) integrate as comfortably as small ones."""
    q, s, a = mp.mpf(q), mp.mpf(s), mp.mpf(a)
    pts = breakpoints(q, s, a)
    scale = max(log_integrand(x, q, s, a) for x in pts)
    f = lambda x: mp.exp(log_integrand(x, q, s, a) - scale)
    total = mp.quad(f, [-mp.inf] + pts + [mp.inf], method=method)
    return scale + mp.log(total)


def rdp(q, s, a):
    return log_a(q, s, a) / (a - 1)


def check_integration():
    """Self-checks: alpha = 2 has the closed form A_2 = 1 + q^2 (e^{1/s^2} - 1)
    (expand the square: E[e^{(2x-1)/(2s^2)}] = 1, E[e^{(2x-1)/s^2}] = e^{1/s^2});
    and two quadrature rules must agree at a fractional order."""
    for q, s in ((0.05, 0.6), (0.01, 2.5), (0.3, 0.5)):
        want = mp.log(1 + mp.mpf(q)**2 * (mp.exp(1 / mp.mpf(s)**2) - 1))
        got = log_a(q, s, 2)
        assert abs(got - want) < mp.mpf(10)**-40 * abs(want), (q, s, got, want)
    for q, s, a in ((0.05, 0.6, 3.7), (0.01, 1.1, 10.5)):
        t = log_a(q, s, a, "tanh-sinh")
        g = log_a(q, s, a, "gauss-legendre")
        assert abs(t - g) < mp.mpf(10)**-30 * abs(t), (q, s, a, t, g)


# (q, z, alpha): fractional orders, including the best orders at q = 0.05,
# z = 0.6 for 10 steps (2.8) and for one step (3.6), and the dp_accounting
# test's (0.01, 2.5, 1.5 and 2.5). (At z = 0.6 orders up to 1.5 are left out:
# their series needs more than the 1000 terms rdp.ts allows, so it reports
# +Infinity and the order is dropped, as in dp_accounting.)
SINGLE = [
    (0.05, 0.6, 1.6),
    (0.05, 0.6, 2.5),
    (0.05, 0.6, 2.8),
    (0.05, 0.6, 3.6),
    (0.05, 0.6, 3.7),
    (0.05, 0.6, 10.5),
    (0.01, 2.5, 1.5),
    (0.01, 2.5, 2.5),
    (0.1, 1.0, 3.7),
    (0.01, 1.1, 10.5),
    (0.2, 2.0, 1.5),
    (0.001, 0.8, 2.5),
]

# dp_accounting's DEFAULT_RDP_ORDERS, built in double precision as
# DEFAULT_RDP_ORDERS in rdp.ts is, so both sides use exactly the same orders
DEFAULT_ORDERS = [mp.mpf(1 + (i + 1) / 10) for i in range(99)] + [
    mp.mpf(a) for a in list(range(11, 64)) + [128, 256, 512, 1024]
]


def epsilon(orders, rdps, delta):
    """Canonne, Kamath & Steinke 2020, Prop. 12, minimised over orders."""
    delta = mp.mpf(delta)
    best, best_a = mp.inf, None
    for a, r in zip(orders, rdps):
        if delta**2 + mp.expm1(-r) > 0:
            e = mp.mpf(0)
        elif a > mp.mpf("1.01"):
            e = r + mp.log1p(-1 / a) - mp.log(delta * a) / (a - 1)
        else:
            continue
        if e < best:
            best, best_a = e, a
    return best, best_a


def main():
    check_integration()
    print("// (q, z, alpha, log A_alpha, eps(alpha) = log A_alpha / (alpha - 1))")
    for q, z, a in SINGLE:
        la = log_a(q, z, a)
        print("  [%s, %s, %s, %s, %s]," % (q, z, a, mp.nstr(la, 17), mp.nstr(la / (a - 1), 17)))

    # End to end: q = 0.05, z = 0.6, 10 steps, delta = 1e-5, default orders.
    q, z, steps, delta = 0.05, 0.6, 10, 1e-5
    rdps = [steps * rdp(q, z, a) for a in DEFAULT_ORDERS]
    eps, order = epsilon(DEFAULT_ORDERS, rdps, delta)
    print("// q=%s z=%s steps=%d delta=%s: epsilon %s at order %s"
          % (q, z, steps, delta, mp.nstr(eps, 17), mp.nstr(order, 5)))


if __name__ == "__main__":
    main()
