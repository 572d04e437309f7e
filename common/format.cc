#include "common/format.h"

#include <cmath>
#include <cstdio>

namespace sweep {

std::string format_count(double value) {
  static const char* kSuffix[] = {"", "K", "M", "B", "T"};
  int tier = 0;
  double scaled = value;
  while (std::fabs(scaled) >= 999.5 && tier < 4) {
    scaled /= 1000.0;
    ++tier;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3g%s", scaled, kSuffix[tier]);
  return buffer;
}

std::string format_sci(double value, int digits) {
  if (value == 0.0) return "0";
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, value);
  std::string text(buffer);
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e);
  std::string exponent = text.substr(e + 1);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  bool negative = exponent[0] == '-';
  size_t first = 1;
  while (first + 1 < exponent.size() && exponent[first] == '0') ++first;
  return mantissa + "e" + (negative ? "-" : "") + exponent.substr(first);
}

std::string format_duration(double seconds) {
  char buffer[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  if (s < 60) {
    std::snprintf(buffer, sizeof(buffer), "%lds", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof(buffer), "%ldm%02lds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buffer, sizeof(buffer), "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
  }
  return buffer;
}

}  // namespace sweep
