# scripts/bench's summary of side-by-side runs: reads ratios B/A, one per
# line, sorted from smallest, and prints
#   MEAN LOW HIGH MEDIAN MIN MAX PAIRS VERDICT LOGMEAN STDERR
# the geometric mean of the ratios, its 95 % confidence interval (Student's
# t on the log ratios: a ratio and its inverse weigh the same), the median,
# the smallest and the largest ratio, how many there were, whether B is
# slower than A (no_slower when the mean is 1 or more, not_measurably_slower
# when it is below 1 but the interval holds 1, slower when all of it is
# below 1; read from the unrounded numbers), and the mean of the log ratios
# with its standard error, unrounded, for net_ratio.awk.
# Run with t_quantile.awk before it. No input: no output.
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
    v = n > 1 ? (ss - n * m * m) / (n - 1) : 0
    se = v > 0 ? sqrt(v / n) : 0
    h = t95(n - 1) * se
    median = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
    verdict = m >= 0 ? "no_slower" : m + h >= 0 ? "not_measurably_slower" : "slower"
    printf "%.3f %.3f %.3f %.3f %.3f %.3f %d %s %.6f %.6f\n", exp(m), exp(m - h), exp(m + h), median,
           r[1], r[n], n, verdict, m, se
}
