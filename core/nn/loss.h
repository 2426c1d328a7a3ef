/*
 * loss.h - per-row losses and their gradients.
 *
 * Every forward writes one loss per row into losses (N); every backward
 * takes dlosses (N), the weight of each row's loss in the total (for a mean
 * over rows, 1/N each), and accumulates into the input gradients.  No
 * allocation.
 */
#ifndef LOSS_H
#define LOSS_H

/*
 * Softmax cross-entropy with a class mask.  logits, probs (N, K); targets
 * (N) with values in 0..K-1; cmask (N, K) or NULL: cmask[n][k] == 0 removes
 * class k from row n (its probability is 0 and it takes no gradient), which
 * is how a task with fewer classes than the model's maximum is expressed.
 * The target class of a row must be allowed by its mask (checked by
 * assertion: validate labels at the edge).  The forward saves probs.
 *   loss_n = -log p_n[target_n]
 *   dlogits_n += dlosses_n (p_n - onehot(target_n))
 */
void loss_xent_forward(float *losses, float *probs, const float *logits,
		       const int *targets, const unsigned char *cmask,
		       int N, int K);
void loss_xent_backward(float *dlogits, const float *dlosses,
			const float *probs, const int *targets, int N, int K);

/*
 * Mean squared error over K outputs: pred, target (N, K).
 *   loss_n = (1/K) sum_k (pred - target)^2
 */
void loss_mse_forward(float *losses, const float *pred, const float *target,
		      int N, int K);
void loss_mse_backward(float *dpred, const float *dlosses, const float *pred,
		       const float *target, int N, int K);

/*
 * Gaussian negative log-likelihood with a predicted log-variance, summed
 * over K independent outputs: mean, logvar, target (N, K).
 *   loss_n = sum_k 0.5 (log 2 pi + logvar + (target - mean)^2 exp(-logvar))
 */
void loss_gnll_forward(float *losses, const float *mean, const float *logvar,
		       const float *target, int N, int K);
void loss_gnll_backward(float *dmean, float *dlogvar, const float *dlosses,
			const float *mean, const float *logvar,
			const float *target, int N, int K);

#endif
