# scripts/bench's summary of side-by-side runs: reads ratios B/A, one per
# line, sorted from smallest, and prints
#   MEAN LOW HIGH MEDIAN MIN MAX PAIRS VERDICT
# the geometric mean of the ratios, its 95 % confidence interval (Student's
# t on the log ratios: a ratio and its inverse weigh the same), the median,
# the smallest and the largest ratio, how many there were, and whether B is
# slower than A: no_slower when the mean is 1 or more, not_measurably_slower
# when it is below 1 but the interval holds 1, slower when all of it is
# below 1 (read from the unrounded numbers).
# t for n - 1 degrees of freedom comes from its Cornish-Fisher expansion
# around the normal 1.96: within 0.01 of the table from 8 pairs on, a little
# low below that. No input: no output.
{
    x = log($1)
    s += x
    ss += x * x
    r[NR] = $1
}
END {
    n = NR
    if (n == 0)
        exit
    m = s / n
    df = n - 1
    z = 1.96
    v = n > 1 ? (ss - n * m * m) / df : 0
    sd = v > 0 ? sqrt(v) : 0
    t = df > 0 ? z + (z ^ 3 + z) / (4 * df) + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * df ^ 2) : 0
    h = t * sd / sqrt(n)
    median = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
    verdict = m >= 0 ? "no_slower" : m + h >= 0 ? "not_measurably_slower" : "slower"
    printf "%.3f %.3f %.3f %.3f %.3f %.3f %d %s\n", exp(m), exp(m - h), exp(m + h), median, r[1], r[n], n, verdict
}
