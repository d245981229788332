// The text of slurm/batch.sbatch.in and the filling of its @NAME@
// placeholders. Private to the slurm module.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace abliterate::slurm {

// slurm/batch.sbatch.in as it was when abliterate was configured (CMake reads
// it into batch_template.cpp, generated from batch_template.cpp.in).
std::string_view batch_script_template();

// `text` with each @NAME@ (capital letters and '_') replaced by
// values.at("NAME"), scanning `text` once: a value is never scanned for
// placeholders itself. Throws InternalError when the template names a
// placeholder `values` lacks, or `values` holds one the template lacks.
std::string fill_placeholders(std::string_view text, const std::map<std::string, std::string>& values);

}  // namespace abliterate::slurm
