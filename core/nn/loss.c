/*
 * loss.c - cross-entropy, squared error and Gaussian likelihood losses.
 */
#include "nn/loss.h"

#include <math.h>

#include "base/am.h"

#define LOG_2PI 1.8378770664093453f

void loss_xent_forward(float *losses, float *probs, const float *logits,
		       const int *targets, const unsigned char *cmask,
		       int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		const float *x = logits + (long)n * K;
		const unsigned char *m = cmask ? cmask + (long)n * K : NULL;
		float *p = probs + (long)n * K;
		float mx = -INFINITY;
		double sum = 0.0;
		int y = targets[n];

		AM_ASSERT(y >= 0 && y < K && (!m || m[y]));
		for (k = 0; k < K; k++)
			if ((!m || m[k]) && x[k] > mx)
				mx = x[k];
		for (k = 0; k < K; k++) {
			p[k] = (!m || m[k]) ? expf(x[k] - mx) : 0.0f;
			sum += p[k];
		}
		for (k = 0; k < K; k++)
			p[k] = (float)(p[k] / sum);
		/* -log p[y] from the log-sum-exp, exact even when p[y]
		 * underflows */
		losses[n] = (float)(log(sum) - (double)(x[y] - mx));
	}
}

void loss_xent_backward(float *dlogits, const float *dlosses,
			const float *probs, const int *targets, int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		const float *p = probs + (long)n * K;
		float *d = dlogits + (long)n * K;

		/* masked classes have p == 0: no gradient */
		for (k = 0; k < K; k++)
			d[k] += dlosses[n] * (p[k] - (k == targets[n] ? 1.0f : 0.0f));
	}
}

void loss_mse_forward(float *losses, const float *pred, const float *target,
		      int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		double s = 0.0;

		for (k = 0; k < K; k++) {
			double e = (double)pred[(long)n * K + k] - target[(long)n * K + k];

			s += e * e;
		}
		losses[n] = (float)(s / K);
	}
}

void loss_mse_backward(float *dpred, const float *dlosses, const float *pred,
		       const float *target, int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++)
		for (k = 0; k < K; k++) {
			long i = (long)n * K + k;

			dpred[i] += dlosses[n] * 2.0f * (pred[i] - target[i]) / (float)K;
		}
}

void loss_gnll_forward(float *losses, const float *mean, const float *logvar,
		       const float *target, int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		double s = 0.0;

		for (k = 0; k < K; k++) {
			long i = (long)n * K + k;
			double e = (double)target[i] - mean[i];

			s += 0.5 * (LOG_2PI + logvar[i] + e * e * exp(-(double)logvar[i]));
		}
		losses[n] = (float)s;
	}
}

void loss_gnll_backward(float *dmean, float *dlogvar, const float *dlosses,
			const float *mean, const float *logvar,
			const float *target, int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++)
		for (k = 0; k < K; k++) {
			long i = (long)n * K + k;
			float e = target[i] - mean[i];
			float iv = expf(-logvar[i]);

			if (dmean)
				dmean[i] += dlosses[n] * (-e * iv);
			if (dlogvar)
				dlogvar[i] += dlosses[n] * 0.5f * (1.0f - e * e * iv);
		}
}
