# The two-sided 95 % quantile of Student's t for DF degrees of freedom (any
# positive number: Welch's are fractional), for scripts/bench's intervals
# (pair_statistics.awk, net_ratio.awk). The Cornish-Fisher expansion around
# the normal 1.96: within 0.01 of the table from 8 on, a little low below
# that. No degrees of freedom: 0, an interval of no width.
function t95(df,    z) {
    z = 1.96
    if (df <= 0)
        return 0
    return z + (z ^ 3 + z) / (4 * df) + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * df ^ 2)
}
