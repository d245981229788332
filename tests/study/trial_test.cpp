#include "abliterate/study/trial.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/store_schema.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {

TEST(TrialState, SpellingsRoundTrip) {
  for (TrialState s : {TrialState::RUNNING, TrialState::COMPLETE, TrialState::PRUNED, TrialState::FAIL,
                       TrialState::WAITING}) {
    EXPECT_EQ(trial_state_from_string(to_string(s)), s);
  }
  EXPECT_STREQ(to_string(TrialState::COMPLETE), "COMPLETE");
  ASSERT_THROWS_WITH(trial_state_from_string("DONE"), FormatError, "got \"DONE\"");
}

TEST(Direction, SpellingsRoundTrip) {
  EXPECT_STREQ(to_string(Direction::MINIMIZE), "MINIMIZE");
  EXPECT_EQ(direction_from_string("MAXIMIZE"), Direction::MAXIMIZE);
  ASSERT_THROWS_WITH(direction_from_string("NOT_SET"), FormatError, "NOT_SET");
}

}  // namespace abliterate::study
