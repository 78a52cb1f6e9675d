#!/usr/bin/env python3
"""metaplast test fixtures written by an independent writer, NumPy (test_data.c, issue 25).

usage: numpy_fixtures.py DIR

Writes into DIR, with values from formulas that tests/test_data.c recomputes:
  u8.npy       uint8   (12, 3, 4)   (13 i + 5 r + c) % 256
  f4.npy       <f4     (12, 6)      (13 i + 5 j) / 64 - 1.5        (j = 0..5, exact in float32)
  f8be.npy     >f8     (12, 2, 3)   (7 i - 3 r + c) / 1024 + 0.125 (big-endian float64)
  lab_i8.npy   <i8     (12,)        i % 4
  lab_i4be.npy >i4     (12,)        (i + 1) % 4
  lab_u1.npy   |u1     (12, 1)      (i + 2) % 4
  data.csv     csv module: columns a, b, y, c (y the label, (i + 3) % 4), a = i / 8, b = -i / 3
               (written with repr, which round-trips), c = 1e-3 * i; 12 rows
"""
import csv
import os
import sys

import numpy as np

N = 12


def main(out):
    i = np.arange(N)
    r = np.arange(3)
    c = np.arange(4)
    u8 = (13 * i[:, None, None] + 5 * r[None, :, None] + c[None, None, :]) % 256
    np.save(os.path.join(out, "u8.npy"), u8.astype(np.uint8))
    j = np.arange(6)
    f4 = (13 * i[:, None] + 5 * j[None, :]) / 64.0 - 1.5
    np.save(os.path.join(out, "f4.npy"), f4.astype("<f4"))
    r2, c3 = np.arange(2), np.arange(3)
    f8 = (7 * i[:, None, None] - 3 * r2[None, :, None] + c3[None, None, :]) / 1024.0 + 0.125
    np.save(os.path.join(out, "f8be.npy"), f8.astype(">f8"))
    np.save(os.path.join(out, "lab_i8.npy"), (i % 4).astype("<i8"))
    np.save(os.path.join(out, "lab_i4be.npy"), ((i + 1) % 4).astype(">i4"))
    np.save(os.path.join(out, "lab_u1.npy"), ((i + 2) % 4).astype(np.uint8).reshape(N, 1))
    with open(os.path.join(out, "data.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "y", "c"])
        for k in range(N):
            w.writerow([repr(k / 8), repr(-k / 3), (k + 3) % 4, repr(1e-3 * k)])


if __name__ == "__main__":
    main(sys.argv[1])
