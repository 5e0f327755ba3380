#include "tools/text_table.h"

#include <algorithm>

#include "fmt/format.h"

namespace fjord::tools {

namespace {

// "-" stands for "none" in a numeric column and keeps it right-aligned.
bool IsNumber(const std::string& s) {
  if (s == "-") return true;
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  return std::all_of(s.begin() + i, s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)) {}

void TextTable::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

void TextTable::Print(std::FILE* out, const std::string& indent) const {
  std::vector<size_t> width(header_.size());
  std::vector<bool> numeric(header_.size(), true);
  for (size_t c = 0; c < header_.size(); c++) {
    width[c] = header_[c].size();
    for (const auto& row : rows_) {
      width[c] = std::max(width[c], row[c].size());
      if (!row[c].empty() && !IsNumber(row[c])) numeric[c] = false;
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (size_t c = 0; c < cells.size(); c++) {
      const bool last = c + 1 == cells.size();
      if (numeric[c]) {
        s += fmt::format("{:>{}}", cells[c], width[c]);
      } else if (last) {
        s += cells[c];
      } else {
        s += fmt::format("{:<{}}", cells[c], width[c]);
      }
      if (!last) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    fmt::print(out, "{}\n", s);
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

}  // namespace fjord::tools
