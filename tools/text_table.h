// TextTable: columns aligned for people, as `fjord topic list` and the
// other text outputs print them (the header row in capitals, two spaces
// between columns, numbers right-aligned). A value type; thread-compatible.
#ifndef FJORD_TOOLS_TEXT_TABLE_H_
#define FJORD_TOOLS_TEXT_TABLE_H_

#include <cstdio>
#include <string>
#include <vector>

namespace fjord::tools {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  // Prints every row, each line prefixed by `indent`.
  void Print(std::FILE* out, const std::string& indent = "") const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_TEXT_TABLE_H_
