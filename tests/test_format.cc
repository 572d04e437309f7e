// Number formatting shared by tables, logs and run ids.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/format.h"

namespace sweep {
namespace {

TEST(Format, ScientificIsShortAndNonFiniteNumbersReadAsSuch) {
  EXPECT_EQ(format_sci(1e11), "1e11");
  EXPECT_EQ(format_sci(1.8e11), "1.8e11");
  EXPECT_EQ(format_sci(5.76e-3), "5.76e-3");
  EXPECT_EQ(format_sci(0.0), "0");
  EXPECT_EQ(format_sci(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_sci(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(format_sci(std::nan("")), "nan");
}

}  // namespace
}  // namespace sweep
