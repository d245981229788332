// The job's `sampler` key: TPE by default, the random sampler on request.
#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/config/json_schema.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

TEST(JobSampler, DefaultsToTpe) {
  EXPECT_EQ(parse_job("model: m\n", "jobs/x.yaml").sampler, SamplerKind::tpe);
}

TEST(JobSampler, ParsesRandomAndRoundTrips) {
  const Job job = parse_job("model: m\nsampler: random\n", "jobs/x.yaml");
  EXPECT_EQ(job.sampler, SamplerKind::random);
  EXPECT_EQ(job_to_json(job)["sampler"], "random");
  EXPECT_EQ(job_from_json(job_to_json(job), job.source_path).sampler, SamplerKind::random);
}

TEST(JobSampler, RejectsUnknownSampler) {
  ASSERT_THROWS_WITH(parse_job("model: m\nsampler: cmaes\n", "jobs/x.yaml"), InputError, "sampler");
}

TEST(JobSampler, SchemaEnumMatchesSpellings) {
  const nlohmann::json properties = JsonSchema::load(job_schema_path()).document()["properties"];
  EXPECT_EQ(properties["sampler"]["enum"],
            nlohmann::json({to_string(SamplerKind::tpe), to_string(SamplerKind::random)}));
  EXPECT_EQ(parse_sampler_kind("tpe"), SamplerKind::tpe);
  EXPECT_FALSE(parse_sampler_kind("TPE").has_value());
}

}  // namespace
}  // namespace abliterate::config
