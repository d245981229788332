// A sweep: one base job run over many models, or a matrix of models x
// settings, one study per entry (issue 12). Each entry's store and cache live
// in a directory named after the entry, so entries never share a file.
//
//   base: job.yaml              # the job every entry starts from (relative to this file)
//   out_dir: runs/my-sweep      # optional; default: <this file's folder>/<this file's stem>
//   models:                     # one or more
//     - model: models/a.gguf    # a path, or {name, model, adapter}
//       name: a                 # optional; default: the model file's or folder's stem
//   settings:                   # optional; entries are then models x settings
//     - name: strong-kl
//       set: {kl_divergence_scale: 2.0}   # job keys over the base job's
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"

namespace abliterate::config {

struct SweepEntry {
  std::string name;  // "<model name>" or "<model name>-<settings name>"; a file name
  Job job;           // the base job with this entry's model and settings; store and cache under out_dir/name/
};

struct Sweep {
  std::filesystem::path source_path;
  std::filesystem::path out_dir;
  std::vector<SweepEntry> entries;  // in file order: models outer, settings inner
};

// Reads and checks the sweep at `path` and every entry's job (through the
// job schema). Throws InputError naming the file and key.
Sweep load_sweep(const std::filesystem::path& path);

}  // namespace abliterate::config
