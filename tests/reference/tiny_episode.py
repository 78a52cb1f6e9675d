#!/usr/bin/python3
"""Independent reference for test_pinned's tiny episode (issue 20), in numpy, double precision.

The 3-2-2-3 network of test_net.c (hand-set W and B, softplus beta = 10 on the hidden layers,
softmax output, no biases), the rule theta_0 F0 + theta_9 F9 (F0 = -e_l y_{l-1}^T, F9 = Oja's
y_l y_{l-1}^T - y_l y_l^T W), online steps of batch 1 in which every layer is updated at once
from the signals of the current weights (PAPER.md §1-§4): e_L = softmax(z_L) - onehot,
e_l = (F_{l+1}^T e_{l+1}) * (1 - exp(-beta y_l)) with F = B (fixed feedback) or the current W
(symmetric). After the steps, the query loss is the mean cross-entropy of the softmax over the
query batch and the accuracy the fraction of argmax hits. dL/dtheta is a Richardson-extrapolated
central difference of that loss (steps 1e-4 and 5e-5), accurate to about 1e-10 relative.

Run:  /usr/bin/python3 tests/reference/tiny_episode.py   (prints the C initialisers pasted in test_pinned.c)
"""
import numpy as np

BETA = 10.0
N = [3, 2, 2, 3]
W0 = [None,
      np.array([0.5, -0.3, 0.8, -0.6, 0.4, 0.2]).reshape(2, 3),
      np.array([0.7, -0.5, 0.3, 0.9]).reshape(2, 2),
      np.array([0.4, -0.7, -0.2, 0.6, 0.9, 0.1]).reshape(3, 2)]
B0 = [None,
      np.array([-0.4, 0.6, 0.1, 0.3, -0.8, 0.5]).reshape(2, 3),
      np.array([0.2, 0.9, -0.7, 0.4]).reshape(2, 2),
      np.array([0.5, 0.3, -0.6, 0.2, 0.1, -0.9]).reshape(3, 2)]
X = np.array([[0.2, 0.9, 0.5], [0.7, 0.1, 0.0], [0.3, 0.6, 0.8], [1.0, 0.4, 0.2], [0.0, 0.5, 0.9], [0.6, 0.8, 0.1]])
Y = [1, 0, 2, 2, 1, 0]
XQ = np.array([[0.1, 0.8, 0.3], [0.9, 0.0, 0.4], [0.5, 0.5, 1.0], [0.0, 0.2, 0.7]])
YQ = [0, 1, 2, 1]


def forward(W, x):
    ys = [x]
    for l in range(1, 4):
        z = W[l] @ ys[-1]
        if l < 3:
            ys.append(np.logaddexp(0, BETA * z) / BETA)
        else:
            ys.append(np.exp(z - z.max()) / np.exp(z - z.max()).sum())
    return ys, z


def episode(theta0, theta9, steps, symmetric):
    W = [None] + [w.copy() for w in W0[1:]]
    for t in range(steps):
        ys, _ = forward(W, X[t])
        e = [None] * 4
        e[3] = ys[3] - np.eye(3)[Y[t]]
        for l in (2, 1, 0):
            F = W[l + 1] if symmetric else B0[l + 1]
            e[l] = (F.T @ e[l + 1]) * (1 - np.exp(-BETA * ys[l]))
        new = [None]
        for l in range(1, 4):
            pre, post = ys[l - 1], ys[l]
            F0 = -np.outer(e[l], pre)
            F9 = np.outer(post, pre) - np.outer(post, post) @ W[l]
            new.append(W[l] + theta0 * F0 + theta9 * F9)
        W = new
    loss, right = 0.0, 0
    for x, y in zip(XQ, YQ):
        _, z = forward(W, x)
        lse = z.max() + np.log(np.exp(z - z.max()).sum())
        loss += lse - z[y]
        right += int(np.argmax(z) == y)
    return loss / len(YQ), right / len(YQ)


def grad(theta, steps, symmetric):
    g = []
    for r in range(2):
        def f(h):
            t = list(theta)
            t[r] += h
            return episode(t[0], t[1], steps, symmetric)[0]
        d = [(f(h) - f(-h)) / (2 * h) for h in (1e-4, 5e-5)]
        g.append((4 * d[1] - d[0]) / 3)
    return g


THETA = (0.8, 0.15)
for sym in (0, 1):
    for steps in (6, 5):
        loss, acc = episode(THETA[0], THETA[1], steps, sym)
        g = grad(THETA, steps, sym)
        print(f"/* {'symmetric' if sym else 'fixed'}, {steps} steps */ "
              f"{{{loss!r}, {acc!r}, {{{g[0]!r}, {g[1]!r}}}}},")
