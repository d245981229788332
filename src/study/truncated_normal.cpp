// Port of Optuna 5.0's _truncnorm.py and _erf.py (spec/optuna-compat.md §1.5,
// §1.6). Every expression keeps Optuna's operation order: the fixtures compare
// proposals to 1e-12, and the Newton loop and argmax amplify any last-bit
// difference.
#include "abliterate/study/truncated_normal.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "abliterate/common/error.hpp"

namespace abliterate::study::truncnorm {
namespace {

const double kSqrt2 = std::sqrt(2.0);                           // 2**0.5
const double kNdtriExpApproxC = std::sqrt(3.0) / std::numbers::pi;
constexpr double kLogE2 = std::numbers::ln2;  // numpy's NPY_LOGE2
// numpy evaluates Φ of 2000 or more central cases with _erf.py's polynomial.
constexpr size_t kPolynomialErfMinSize = 2000;

// numpy's logaddexp.
double logaddexp(double x, double y) {
  if (x == y) return x + kLogE2;
  const double tmp = x - y;
  if (tmp > 0) return x + std::log1p(std::exp(-tmp));
  if (tmp <= 0) return y + std::log1p(std::exp(tmp));
  return tmp;
}

// _log_diff: log(exp(p) − exp(q)).
double log_diff(double log_p, double log_q) { return log_p + std::log1p(-std::exp(log_q - log_p)); }

double ndtr_single(double a) {
  const double x = a / kSqrt2;
  if (x < -1 / kSqrt2) return 0.5 * std::erfc(-x);
  if (x < 1 / kSqrt2) return 0.5 + 0.5 * std::erf(x);
  return 1.0 - 0.5 * std::erfc(x);
}

// numpy.polynomial.Polynomial(c)(x): Horner from the highest coefficient.
template <size_t N>
double polyval(const double (&c)[N], double x) {
  double c0 = c[N - 1];
  for (size_t i = N - 1; i-- > 0;) c0 = c[i] + c0 * x;
  return c0;
}

// _erf.py: FreeBSD's s_erf.c for |x| < 6 in numpy form (1 beyond).
constexpr double kErx = 8.45062911510467529297e-01;
constexpr double kEfx = 1.28379167095512586316e-01;
constexpr double kPp[] = {1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
                          -5.77027029648944159157e-03, -2.37630166566501626084e-05};
constexpr double kQq[] = {1, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
                          1.32494738004321644526e-04, -3.96022827877536812320e-06};
constexpr double kPa[] = {-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
                          3.18346619901161753674e-01,  -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                          -2.16637559486879084300e-03};
constexpr double kQa[] = {1,
                          1.06420880400844228286e-01,
                          5.40397917702171048937e-01,
                          7.18286544141962662868e-02,
                          1.26171219808761642112e-01,
                          1.36370839120290507362e-02,
                          1.19844998467991074170e-02};
constexpr double kRa[] = {-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e01,
                          -6.23753324503260060396e01,  -1.62396669462573470355e02, -1.84605092906711035994e02,
                          -8.12874355063065934246e01,  -9.81432934416914548592e00};
constexpr double kSa[] = {1,
                          1.96512716674392571292e01,
                          1.37657754143519042600e02,
                          4.34565877475229228821e02,
                          6.45387271733267880336e02,
                          4.29008140027567833386e02,
                          1.08635005541779435134e02,
                          6.57024977031928170135e00,
                          -6.04244152148580987438e-02};
constexpr double kRb[] = {-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e01,
                          -1.60636384855821916062e02,  -6.37566443368389627722e02, -1.02509513161107724954e03,
                          -4.83519191608651397019e02};
constexpr double kSb[] = {1,
                          3.03380607434824582924e01,
                          3.25792512996573918826e02,
                          1.53672958608443695994e03,
                          3.19985821950859553908e03,
                          2.55305040643316442583e03,
                          4.74528541206955367215e02,
                          -2.24409524465858183362e01};

double polynomial_erf(double x) {
  if (std::isnan(x)) return x;
  const double a = std::fabs(x);
  double out = 1.0;
  if (a < 6) {
    if (a < 0x1p-28) {
      out = (1 + kEfx) * a;
    } else if (a < 0.84375) {
      const double z = a * a;
      out = a * (1 + polyval(kPp, z) / polyval(kQq, z));
    } else if (a < 1.25) {
      const double s = a - 1;
      out = kErx + polyval(kPa, s) / polyval(kQa, s);
    } else if (a < 1 / 0.35) {
      const double z = a * a;
      const double s = 1 / z;
      out = 1 - std::exp(-z - 0.5625 + polyval(kRa, s) / polyval(kSa, s)) / a;
    } else {
      const double z = a * a;
      const double s = 1 / z;
      out = 1 - std::exp(-z - 0.5625 + polyval(kRb, s) / polyval(kSb, s)) / a;
    }
  }
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);  // np.sign
  return sign * out;
}

// _ndtr over an array of `batch_size` elements: 0.5 + 0.5·erf(a/√2).
double ndtr_in_batch(double a, size_t batch_size) {
  const double x = a / kSqrt2;
  const double e = batch_size < kPolynomialErfMinSize ? std::erf(x) : polynomial_erf(x);
  return 0.5 + 0.5 * e;
}

// _ndtri_exp over one batch: x with log Φ(x) = y, by Newton's method until
// every element has converged.
void ndtri_exp(std::vector<double>& y_then_x) {
  const size_t n = y_then_x.size();
  if (n == 0) return;
  std::vector<double> z(n);
  std::vector<double> x(n);
  std::vector<char> flipped(n);
  for (size_t i = 0; i < n; ++i) {
    const double y = y_then_x[i];
    flipped[i] = y > -1e-2;
    z[i] = flipped[i] ? std::log(-std::expm1(y)) : y;
    x[i] = z[i] < -5 ? -std::sqrt(-2.0 * (z[i] + kNormPdfLogC)) : -kNdtriExpApproxC * std::log(std::expm1(-z[i]));
  }
  for (int iteration = 0; iteration < 100; ++iteration) {
    bool converged = true;
    for (size_t i = 0; i < n; ++i) {
      const double log_ndtr_x = log_ndtr(x[i]);
      const double log_norm_pdf_x = -0.5 * (x[i] * x[i]) - kNormPdfLogC;
      const double dx = (log_ndtr_x - z[i]) * std::exp(log_ndtr_x - log_norm_pdf_x);
      x[i] -= dx;
      converged = converged && std::fabs(dx) < 1e-8 * std::fabs(x[i]);
    }
    if (converged) break;
  }
  for (size_t i = 0; i < n; ++i) y_then_x[i] = flipped[i] ? -x[i] : x[i];
}

}  // namespace

double log_ndtr(double a) {
  if (a > 6) return -ndtr_single(-a);
  if (a > -20) return std::log(ndtr_single(a));
  // Python's a**2 is libm's pow.
  const double log_lhs = -0.5 * std::pow(a, 2.0) - std::log(-a) - 0.5 * std::log(2 * std::numbers::pi);
  double last_total = 0.0;
  double right_hand_side = 1.0;
  double numerator = 1.0;
  double denom_factor = 1.0;
  const double denom_cons = 1 / std::pow(a, 2.0);
  double sign = 1;
  int i = 0;
  while (std::fabs(last_total - right_hand_side) > DBL_EPSILON) {
    i += 1;
    last_total = right_hand_side;
    sign = -sign;
    denom_factor *= denom_cons;
    numerator *= 2 * i - 1;
    right_hand_side += sign * numerator * denom_factor;
  }
  return log_lhs + std::log(right_hand_side);
}

void log_gauss_mass(std::span<const double> a, std::span<const double> b, std::span<double> out) {
  ABL_ASSERT(a.size() == b.size() && a.size() == out.size(), "log_gauss_mass: sizes differ");
  size_t n_central = 0;
  for (size_t i = 0; i < a.size(); ++i) n_central += !(b[i] <= 0) && !(a[i] > 0);
  for (size_t i = 0; i < a.size(); ++i) {
    if (b[i] <= 0) {
      out[i] = log_diff(log_ndtr(b[i]), log_ndtr(a[i]));
    } else if (a[i] > 0) {
      out[i] = log_diff(log_ndtr(-a[i]), log_ndtr(-b[i]));
    } else {
      out[i] = std::log1p(-ndtr_in_batch(a[i], n_central) - ndtr_in_batch(-b[i], n_central));
    }
  }
}

void ppf(std::span<const double> q, std::span<const double> a, std::span<const double> b, std::span<double> out) {
  const size_t n = q.size();
  ABL_ASSERT(a.size() == n && b.size() == n && out.size() == n, "ppf: sizes differ");
  std::vector<double> log_mass(n);
  log_gauss_mass(a, b, log_mass);
  // Left (a < 0) and right cases are two separate Newton batches.
  std::vector<size_t> left_idx;
  std::vector<size_t> right_idx;
  std::vector<double> left;
  std::vector<double> right;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] < 0) {
      left_idx.push_back(i);
      left.push_back(logaddexp(log_ndtr(a[i]), std::log(q[i]) + log_mass[i]));
    } else {
      right_idx.push_back(i);
      right.push_back(logaddexp(log_ndtr(-b[i]), std::log1p(-q[i]) + log_mass[i]));
    }
  }
  ndtri_exp(left);
  ndtri_exp(right);
  for (size_t k = 0; k < left_idx.size(); ++k) out[left_idx[k]] = left[k];
  for (size_t k = 0; k < right_idx.size(); ++k) out[right_idx[k]] = -right[k];
  for (size_t i = 0; i < n; ++i) {
    if (q[i] == 0) out[i] = a[i];
    if (q[i] == 1) out[i] = b[i];
    if (a[i] == b[i]) out[i] = std::numeric_limits<double>::quiet_NaN();
  }
}

}  // namespace abliterate::study::truncnorm
