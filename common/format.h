#pragma once
// Human-readable numbers for tables and run ids. Units stay with the caller:
// these functions only shorten numbers (25100 -> "25.1K", 3e12 -> "3e12").

#include <string>

namespace sweep {

// Counts with an SI-like suffix and 3 significant digits: 9400 -> "9.4K",
// 1.6e10 -> "16B" (K, M, B, T: thousand, million, billion, trillion).
std::string format_count(double value);

// Scientific notation without '+' or leading zeros in the exponent and with at
// most `digits` significant digits: 3e12 -> "3e12", 6.25e18 -> "6.25e18".
std::string format_sci(double value, int digits = 3);

// Seconds as "42s", "3m05s", "2h14m", "3d04h".
std::string format_duration(double seconds);

}  // namespace sweep
