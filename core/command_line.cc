// SplitCommand: `run:` lines into argv, like a shell splits plain words.

#include "core/pipeline.h"
#include "core/strings.h"

namespace sluss::core {

Result<std::vector<std::string>> SplitCommand(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  auto shell_op = [](char ch) {
    return InvalidArgument(StrCat(
        "'", ch,
        "' would need a shell, but sluss runs the command without one; put "
        "the steps in a script, or quote the character"));
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    switch (ch) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        if (in_word) words.push_back(std::move(cur));
        cur.clear();
        in_word = false;
        break;
      case '\'': {
        std::size_t end = s.find('\'', i + 1);
        if (end == std::string_view::npos) {
          return InvalidArgument("unterminated single quote");
        }
        cur.append(s.substr(i + 1, end - i - 1));
        in_word = true;
        i = end;
        break;
      }
      case '"': {
        std::size_t j = i + 1;
        for (; j < s.size() && s[j] != '"'; ++j) {
          if (s[j] == '\\' && j + 1 < s.size() &&
              (s[j + 1] == '"' || s[j + 1] == '\\' || s[j + 1] == '$' ||
               s[j + 1] == '`')) {
            cur.push_back(s[++j]);
          } else if (s[j] == '$' || s[j] == '`') {
            return shell_op(s[j]);
          } else {
            cur.push_back(s[j]);
          }
        }
        if (j >= s.size()) return InvalidArgument("unterminated double quote");
        in_word = true;
        i = j;
        break;
      }
      case '\\':
        if (i + 1 >= s.size()) {
          return InvalidArgument("the command ends with a lone '\\'");
        }
        cur.push_back(s[++i]);
        in_word = true;
        break;
      case '|': case ';': case '&': case '<': case '>': case '`': case '$':
      case '(': case ')': case '*': case '?':
        return shell_op(ch);
      default:
        cur.push_back(ch);
        in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  if (words.empty()) return InvalidArgument("the command is empty");
  return words;
}

}  // namespace sluss::core
