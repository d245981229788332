// The truncated normal numerics of Optuna's TPE (optuna/samplers/_tpe/
// _truncnorm.py and _erf.py, themselves from SciPy and FreeBSD's libm),
// operation for operation, so that proposals match Optuna's bit for bit
// (spec/optuna-compat.md §1.5, §1.6). Bounds are in standard units:
// a = (low − μ)/σ, b = (high − μ)/σ.
#pragma once

#include <cmath>
#include <numbers>
#include <span>

namespace abliterate::study::truncnorm {

// log Φ(a) (Optuna's _log_ndtr_single): through libm's erf/erfc, the
// asymptotic series below −20.
double log_ndtr(double a);

// log(Φ(b) − Φ(a)) for each pair (Optuna's _log_gauss_mass over one array).
// The batch matters: Optuna evaluates Φ of the central cases with its own
// polynomial erf when 2000 or more of them are in one call.
void log_gauss_mass(std::span<const double> a, std::span<const double> b, std::span<double> out);

// Quantile q of the standard normal truncated to [a, b] (Optuna's ppf). The
// batch matters here too: Newton's iterations run until every element of the
// batch has converged.
void ppf(std::span<const double> q, std::span<const double> a, std::span<const double> b, std::span<double> out);

// log √(2π), as Python's math.log(math.sqrt(2 * math.pi)).
inline const double kNormPdfLogC = std::log(std::sqrt(2 * std::numbers::pi));

// −x²/2 − log √(2π) (Optuna's _norm_logpdf).
inline double norm_logpdf(double x) { return -(x * x) / 2.0 - kNormPdfLogC; }

}  // namespace abliterate::study::truncnorm
