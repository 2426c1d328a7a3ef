/*
 * sdist.h - distances between two samples of points: the energy distance
 * and the unbiased squared maximum mean discrepancy with a Gaussian kernel.
 *
 * A sample is n rows of a row-major float array with `stride` floats per
 * row; only the first D columns count (1 <= D <= stride).  Norms are
 * Euclidean over those D columns.  Both statistics are U-statistics: their
 * expectation is the population distance (0 when both samples come from the
 * same distribution), so a single value may come out slightly negative.
 * Cost O((n + m)^2 D), accumulated in double.
 *
 * Owns nothing, never allocates, never prints; thread-safe.  Sizes and
 * bandwidths out of range are programming errors (asserted); non-finite
 * entries give a non-finite result.
 */
#ifndef SDIST_H
#define SDIST_H

/*
 * The energy distance between samples X (n rows) and Y (m rows),
 * n, m >= 2:
 *     2 / (n m) sum_{i,j} |x_i - y_j|
 *     - 1 / (n (n - 1)) sum_{i != i'} |x_i - x_i'|
 *     - 1 / (m (m - 1)) sum_{j != j'} |y_j - y_j'|,
 * an unbiased estimate of 2 E|X - Y| - E|X - X'| - E|Y - Y'|, which is 0
 * exactly when the two distributions are equal.
 */
double sdist_energy(const float *X, int n, const float *Y, int m, int D,
		    int stride);

/*
 * The energy distance as a V-statistic: the same sums with every pair,
 * self-pairs included (their distance is 0), divided by n^2 and m^2:
 *     2 / (n m) sum_{i,j} |x_i - y_j|
 *     - 1 / n^2 sum_{i,i'} |x_i - x_i'| - 1 / m^2 sum_{j,j'} |y_j - y_j'|.
 * Never negative (it is the squared distance between the two empirical
 * distributions in the energy metric), and biased upward by sampling
 * noise: for two independent samples of one distribution its expectation
 * is E|X - X'| (1/n + 1/m), the floor a sample of that size cannot beat.
 */
double sdist_energy_v(const float *X, int n, const float *Y, int m, int D,
		      int stride);

/*
 * The unbiased squared MMD between X (n rows) and Y (m rows), n, m >= 2,
 * with the kernel k(a, b) = exp(-|a - b|^2 / (2 h^2)), h = bandwidth > 0:
 *     1 / (n (n - 1)) sum_{i != i'} k(x_i, x_i')
 *     + 1 / (m (m - 1)) sum_{j != j'} k(y_j, y_j')
 *     - 2 / (n m) sum_{i,j} k(x_i, y_j).
 */
double sdist_mmd2(const float *X, int n, const float *Y, int m, int D,
		  int stride, double bandwidth);

#endif
