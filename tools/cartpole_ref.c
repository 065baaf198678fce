/* Plain-C reference of fastpg's streaming rollout + gradient kernel, for speed comparisons.

   One kernel: run m episodes of CartPole-v1 (Gymnasium constants, "euler" integrator, +1 reward
   per step, truncation at 500 steps) under the logistic policy P(left | s) = sigmoid(theta . f),
   accumulating per episode a gradient estimate, and in some modes the Fisher matrix, exactly as
   fastpg._rollout.episode_stream does with gamma = 1. Four modes, each compiled to its own loop:
   reward to go (psi = PSI_FROM_START) or total return (PSI_TOTAL: the minimal work of a
   REINFORCE estimate), with or without the Fisher matrix:

     f_t      = float32-rounded observation widened to double (what Gymnasium returns)
     z_t      = ((0.0 + t0 f0 + t1 f1) + t2 f2) + t3 f3, p_t = 1 / (1 + exp(-z_t))
     action   = left (0) iff u_t < p_t, u_t from the episode's xoshiro256** stream (below)
     s_t      = (1[left] - p_t) f_t;  S_t = sum_{t' <= t} s_t'
     grad    += r_t S_t                    (reward to go: = sum_t s_t sum_{t' >= t} r_t', streamed)
     grad     = (sum_t r_t) S_T            (total return, at the end)
     fisher  += p_t (1 - p_t) f_t f_t^T    (upper triangle, mirrored at the end)

   The statements come in the order of fastpg's loop: cos/sin of the angle, then the policy's
   exp, then the physics. (GCC keeps the calls in source order; with exp first this loop ran
   36-37 instead of 26-27 ns/step on the AMD EPYC the README's figures come from.)

   Random stream of episode i of a batch with key K (fastpg/_rng.py): the four xoshiro256**
   state words are the splitmix64 outputs at counters K + (4i + 1) G, ..., K + (4i + 4) G with
   G = 0x9E3779B97F4A7C15 (mod 2^64), a window of its own per episode; each uniform is
   (next >> 11) * 2^-53.

   Every floating-point operation is written in the order fastpg (and Gymnasium) performs it,
   so results are bit-identical to fastpg's as long as the compiler does not contract a * b + c
   into an FMA. GCC contracts by default in GNU C mode (-ffp-contract=fast), so build with

     gcc -O3 -march=native -ffp-contract=off -o cartpole_ref tools/cartpole_ref.c -lm

   (the pragmas below also turn contraction off for this file, for GCC and Clang, so plain
   gcc -O3 -march=native gives the same bits). The other trap, handled in f32(): GCC 12 at -O3
   -march=native dropped the float32 round trip of the observation altogether.
   Add -shared -fPIC -DCARTPOLE_REF_NO_MAIN to get a library exporting cartpole_ref_run()
   (bench/bench_engine.py calls it through ctypes).

   CLI:  cartpole_ref [REPS [MODE]]   (MODE: cartpole_ref_run's mode, default 1) reads from stdin (whitespace separated):

     theta0 theta1 theta2 theta3      doubles (strtod: decimal or C99 hex, e.g. 0x1.4p+3)
     key                              unsigned 64-bit decimal integer
     m                                number of episodes
     x x_dot theta theta_dot          m lines: the initial state of each episode (doubles)

   runs the whole batch REPS times (default 1; the results of every repetition are identical)
   and prints one line per episode

     i length grad0..grad3 fisher00 fisher01 fisher02 fisher03 fisher11 fisher12 fisher13
     fisher22 fisher23 fisher33            (doubles printed with %.17g; the Fisher entries are 0
                                           in modes without it)

   then a last line "ns_per_step <median over REPS> min <min over REPS> steps <per rep> reps <REPS>".
*/

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Gymnasium CartPole-v1 constants, computed as Gymnasium computes them. */
static const double GRAVITY = 9.8;
static const double MASSCART = 1.0;
static const double MASSPOLE = 0.1;
#define TOTAL_MASS (MASSPOLE + MASSCART)
static const double LENGTH = 0.5;
#define POLEMASS_LENGTH (MASSPOLE * LENGTH)
static const double FORCE_MAG = 10.0;
static const double TAU = 0.02;
#define THETA_THRESHOLD (12 * 2 * 3.14159265358979323846 / 360)
static const double X_THRESHOLD = 2.4;
enum { MAX_EPISODE_STEPS = 500 };

static const uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

/* (double)(float)v, kept: GCC 12.2 at -O3 -march=native (SLP vectorization) was seen to drop the
   float round trip of (double)(float)x altogether, so the policy saw the unrounded state. The empty
   asm makes the float value opaque, forcing the conversion (it costs one cvtsd2ss + cvtss2sd). */
static inline double f32(double v) {
    float r = (float)v;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__("" : "+x"(r));
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__("" : "+w"(r));
#else
    volatile float opaque = r;
    r = opaque;
#endif
    return (double)r;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline void rng_seed_episode(uint64_t key, int64_t episode, uint64_t s[4]) {
    uint64_t z = key + (uint64_t)episode * 4 * GOLDEN; /* counters K + (4i + 1..4) G */
    for (int k = 0; k < 4; k++) {
        z += GOLDEN;
        uint64_t x = z;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        s[k] = x ^ (x >> 31);
    }
}

static inline double rng_uniform(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(result >> 11) * 0x1.0p-53;
}

/* One episode from state0; writes grad[4] and, if with_fisher, fisher[16] (row-major 4x4). Returns its length.
   total_return and with_fisher are constants at every call, so each mode compiles to its own loop with only
   its own work: total_return: grad = (sum_t r_t) S_T (the minimal REINFORCE estimate), else the reward-to-go
   gradient grad = sum_t r_t S_t. */
static inline __attribute__((always_inline)) int64_t episode_stream(const double theta[4], const double state0[4],
                                                                   uint64_t key, int64_t episode, double grad[4],
                                                                   double fisher[16], const int total_return,
                                                                   const int with_fisher) {
    uint64_t rng[4];
    rng_seed_episode(key, episode, rng);
    double x = state0[0], x_dot = state0[1], th = state0[2], th_dot = state0[3];
    double score_sum[4] = {0.0, 0.0, 0.0, 0.0}, g[4] = {0.0, 0.0, 0.0, 0.0}, fi[16] = {0.0}, ret = 0.0;
    int64_t length = MAX_EPISODE_STEPS;
    for (int64_t t = 0; t < MAX_EPISODE_STEPS; t++) {
        /* policy on the float32 observation; cos/sin first, as fastpg's loops order them */
        const double f[4] = {f32(x), f32(x_dot), f32(th), f32(th_dot)};
        const double costheta = cos(th);
        const double sintheta = sin(th);
        const double z = 0.0 + theta[0] * f[0] + theta[1] * f[1] + theta[2] * f[2] + theta[3] * f[3];
        const double p = 1.0 / (1.0 + exp(-z));
        const int left = rng_uniform(rng) < p;
        const double weight = (left ? 1.0 : 0.0) - p;
        for (int k = 0; k < 4; k++) score_sum[k] += weight * f[k];
        if (with_fisher) {
            const double w = p * (1.0 - p);
            for (int k = 0; k < 4; k++) {
                const double wk = w * f[k];
                for (int j = k; j < 4; j++) fi[4 * k + j] += wk * f[j];
            }
        }
        /* Gymnasium CartPoleEnv.step, euler integrator */
        const double force = left ? -FORCE_MAG : FORCE_MAG;
        const double temp = (force + POLEMASS_LENGTH * (th_dot * th_dot) * sintheta) / TOTAL_MASS;
        const double thetaacc = (GRAVITY * sintheta - costheta * temp) /
                                (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
        const double xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        x = x + TAU * x_dot;
        x_dot = x_dot + TAU * xacc;
        th = th + TAU * th_dot;
        th_dot = th_dot + TAU * thetaacc;
        const int terminated = x < -X_THRESHOLD || x > X_THRESHOLD || th < -THETA_THRESHOLD || th > THETA_THRESHOLD;
        /* reward r = 1 and gamma = 1: the return grows by 1.0, reward to go adds (gamma^t r) S_t = S_t */
        if (total_return)
            ret += 1.0;
        else
            for (int k = 0; k < 4; k++) g[k] += score_sum[k];
        if (terminated) {
            length = t + 1;
            break;
        }
    }
    for (int k = 0; k < 4; k++) grad[k] = total_return ? 0.0 + ret * score_sum[k] : g[k];
    if (with_fisher)
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) fisher[4 * k + j] = j < k ? fi[4 * j + k] : fi[4 * k + j];
    return length;
}

static inline __attribute__((always_inline)) int64_t run_batch(const double *theta, uint64_t key, int64_t m,
                                                              const double *states0, int64_t *lengths, double *grads,
                                                              double *fishers, const int total_return,
                                                              const int with_fisher) {
    int64_t steps = 0;
    for (int64_t i = 0; i < m; i++) {
        lengths[i] = episode_stream(theta, states0 + 4 * i, key, i, grads + 4 * i, fishers + 16 * i, total_return,
                                    with_fisher);
        steps += lengths[i];
    }
    return steps;
}

/* Run m episodes (episode i from states0[4 i ..]); writes lengths[m], grads[m * 4] and, with the Fisher
   matrix, fishers[m * 16]. mode: CREF_FISHER (1) | CREF_TOTAL_RETURN (2); 1 is fastpg's reward-to-go
   estimate with the Fisher matrix, 2 the minimal total-return estimate. Returns the total number of steps. */
enum { CREF_FISHER = 1, CREF_TOTAL_RETURN = 2 };
__attribute__((noinline)) int64_t cartpole_ref_run(const double *theta, uint64_t key, int64_t m, const double *states0,
                                                   int64_t *lengths, double *grads, double *fishers, int mode) {
    switch (mode) {
    case 0: return run_batch(theta, key, m, states0, lengths, grads, fishers, 0, 0);
    case CREF_FISHER: return run_batch(theta, key, m, states0, lengths, grads, fishers, 0, 1);
    case CREF_TOTAL_RETURN: return run_batch(theta, key, m, states0, lengths, grads, fishers, 1, 0);
    default: return run_batch(theta, key, m, states0, lengths, grads, fishers, 1, 1);
    }
}

#ifndef CARTPOLE_REF_NO_MAIN

static double read_double(void) {
    char buf[128];
    if (scanf("%127s", buf) != 1) {
        fprintf(stderr, "cartpole_ref: expected a number on stdin\n");
        exit(2);
    }
    char *end;
    double v = strtod(buf, &end);
    if (*end != '\0') {
        fprintf(stderr, "cartpole_ref: not a number: %s\n", buf);
        exit(2);
    }
    return v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long reps = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    const int mode = argc > 2 ? (int)strtol(argv[2], NULL, 10) : CREF_FISHER;
    if (reps < 1) reps = 1;
    double theta[4];
    for (int k = 0; k < 4; k++) theta[k] = read_double();
    uint64_t key;
    int64_t m;
    if (scanf("%" SCNu64 " %" SCNd64, &key, &m) != 2 || m < 1) {
        fprintf(stderr, "cartpole_ref: expected the key and a positive episode count\n");
        return 2;
    }
    double *states0 = malloc((size_t)m * 4 * sizeof(double));
    double *grads = malloc((size_t)m * 4 * sizeof(double));
    double *fishers = calloc((size_t)m * 16, sizeof(double)); /* stays 0 without the Fisher matrix */
    int64_t *lengths = malloc((size_t)m * sizeof(int64_t));
    double *ns = malloc((size_t)reps * sizeof(double));
    if (!states0 || !grads || !fishers || !lengths || !ns) return 3;
    for (int64_t i = 0; i < 4 * m; i++) states0[i] = read_double();

    int64_t steps = 0;
    for (long r = 0; r < reps; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        steps = cartpole_ref_run(theta, key, m, states0, lengths, grads, fishers, mode);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)steps;
    }
    for (int64_t i = 0; i < m; i++) {
        printf("%" PRId64 " %" PRId64, i, lengths[i]);
        for (int k = 0; k < 4; k++) printf(" %.17g", grads[4 * i + k]);
        for (int k = 0; k < 4; k++)
            for (int j = k; j < 4; j++) printf(" %.17g", fishers[16 * i + 4 * k + j]);
        printf("\n");
    }
    qsort(ns, (size_t)reps, sizeof(double), cmp_double);
    double median = reps % 2 ? ns[reps / 2] : 0.5 * (ns[reps / 2 - 1] + ns[reps / 2]);
    printf("ns_per_step %.3f min %.3f steps %" PRId64 " reps %ld\n", median, ns[0], steps, reps);
    free(states0), free(grads), free(fishers), free(lengths), free(ns);
    return 0;
}

#endif
