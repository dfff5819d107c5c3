# scripts/bench's ratio of two ratios: reads two lines of pair_statistics.awk
# (the mcpauth pairs, then nginx's with the same messages) and prints
#   NET LOW HIGH
# the first geometric mean over the second, and its 95 % interval. The two
# sets are separate runs, so the log means' standard errors add in
# quadrature, and t takes the Welch-Satterthwaite degrees of freedom.
# Run with t_quantile.awk before it. Not two lines: no output, status 1.
NR <= 2 {
    mean[NR] = $9
    se[NR] = $10
    pairs[NR] = $7
}
END {
    if (NR != 2)
        exit 1
    m = mean[1] - mean[2]
    v = se[1] ^ 2 + se[2] ^ 2
    w = 0
    for (i = 1; i <= 2; i++)
        if (pairs[i] > 1)
            w += se[i] ^ 4 / (pairs[i] - 1)
    h = t95(w > 0 ? v ^ 2 / w : 0) * sqrt(v)
    printf "%.3f %.3f %.3f\n", exp(m), exp(m - h), exp(m + h)
}
