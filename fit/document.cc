#include "fit/document.h"

#include <cctype>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "common/table.h"

namespace sweep::fit {
namespace {

// ---------------------------------------------------------------- HTML

// Each character of `text` that has a rule becomes the rule's text.
std::string escaped(const std::string& text,
                    std::initializer_list<std::pair<char, const char*>> rules) {
  std::string out;
  for (char c : text) {
    const char* replacement = nullptr;
    for (const auto& [from, to] : rules)
      if (c == from) replacement = to;
    if (replacement)
      out += replacement;
    else
      out += c;
  }
  return out;
}

std::string html_escape(const std::string& text) {
  return escaped(text, {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}});
}

std::string anchor(const std::string& heading) {
  std::string id;
  for (char c : heading) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      id += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!id.empty() && id.back() != '-')
      id += '-';
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id;
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.3em}
h2{font-size:1.3em;margin-top:2em;padding-bottom:.2em;border-bottom:1px solid #ddd}
nav{font-size:.9em;color:#555}nav a{color:#1f5f99;text-decoration:none;margin-right:.9em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{padding:.3em .7em;text-align:left;vertical-align:top;border-bottom:1px solid #e6e6e6}
th{background:#f4f4f4;border-bottom:2px solid #ccc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:1em 0}figure svg{display:block;width:100%;height:auto;max-width:1000px}
figcaption{color:#555;font-size:.9em;margin-top:.3em;max-width:1000px}
.omitted{color:#777;font-style:italic}
)";

}  // namespace

std::string render_html(const std::string& title, const Document& doc) {
  std::string nav, body;
  for (const Block& block : doc.blocks()) {
    switch (block.kind) {
      case Block::Kind::kHeading:
        nav += "<a href=\"#" + anchor(block.text) + "\">" + html_escape(block.text) + "</a> ";
        body += "<h2 id=\"" + anchor(block.text) + "\">" + html_escape(block.text) + "</h2>\n";
        break;
      case Block::Kind::kParagraph:
        body += "<p>" + html_escape(block.text) + "</p>\n";
        break;
      case Block::Kind::kList:
        body += "<ul>\n";
        for (const std::string& item : block.items) body += "<li>" + html_escape(item) + "</li>\n";
        body += "</ul>\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = block.table;
        auto cell = [&](const char* tag, size_t column, const std::string& text) {
          const bool number = t.numeric(column);
          return std::string("<") + tag + (number ? " class=\"num\"" : "") + ">" +
                 html_escape(text) + "</" + tag + ">";
        };
        body += "<div class=\"scroll\"><table>\n<thead><tr>";
        for (size_t c = 0; c < t.header.size(); ++c) body += cell("th", c, t.header[c]);
        body += "</tr></thead>\n<tbody>\n";
        for (const auto& row : t.rows) {
          body += "<tr>";
          for (size_t c = 0; c < row.size(); ++c) body += cell("td", c, row[c]);
          body += "</tr>\n";
        }
        body += "</tbody>\n</table></div>\n";
        break;
      }
      case Block::Kind::kPlot: {
        const Plot& plot = *block.plot;
        if (plot.svg.empty()) {
          body += "<p class=\"omitted\">Plot omitted: " + html_escape(plot.why) + "</p>\n";
        } else {
          body += "<figure id=\"plot-" + plot.name + "\">\n" +
                  inline_svg(plot.svg, plot.name + "-") + "\n<figcaption>" +
                  html_escape(plot.caption) + "</figcaption>\n</figure>\n";
        }
        break;
      }
    }
  }
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title) + "</h1>\n<nav>" + nav + "</nav>\n" + body + "</body>\n</html>\n";
}

// ---------------------------------------------------------------- Markdown

namespace {

// Keeps text literal in Markdown: no emphasis, no HTML, no table breaks.
std::string md_escape(const std::string& text) {
  return escaped(
      text, {{'|', "\\|"}, {'*', "\\*"}, {'`', "\\`"}, {'<', "&lt;"}, {'>', "&gt;"}, {'\n', " "}});
}

}  // namespace

std::string render_markdown(const std::string& title, const Document& doc,
                            const std::string& svg_prefix) {
  std::string out = "# " + md_escape(title) + "\n";
  for (const Block& block : doc.blocks()) {
    out += "\n";
    switch (block.kind) {
      case Block::Kind::kHeading:
        out += "## " + md_escape(block.text) + "\n";
        break;
      case Block::Kind::kParagraph:
        out += md_escape(block.text) + "\n";
        break;
      case Block::Kind::kList:
        for (const std::string& item : block.items) out += "- " + md_escape(item) + "\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = block.table;
        auto row_text = [](const std::vector<std::string>& cells) {
          std::string line = "|";
          for (const std::string& c : cells) line += " " + md_escape(c) + " |";
          return line + "\n";
        };
        out += row_text(t.header) + "|";
        for (size_t c = 0; c < t.header.size(); ++c) out += t.numeric(c) ? "---:|" : "---|";
        out += "\n";
        for (const auto& row : t.rows) out += row_text(row);
        break;
      }
      case Block::Kind::kPlot: {
        const Plot& plot = *block.plot;
        if (plot.svg.empty()) {
          out += "*Plot omitted: " + md_escape(plot.why) + "*\n";
        } else {
          out += "![" + md_escape(plot.title) + "](" + svg_prefix + plot.name + ".svg)\n\n" +
                 md_escape(plot.caption) + "\n";
        }
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- text

std::string render_text(const Document& doc) {
  std::ostringstream out;
  for (const Block& block : doc.blocks()) {
    switch (block.kind) {
      case Block::Kind::kHeading:
        out << "\n" << block.text << "\n";
        break;
      case Block::Kind::kParagraph:
        if (!block.text.empty()) out << block.text << "\n";
        break;
      case Block::Kind::kList:
        for (const std::string& item : block.items) out << "  " << item << "\n";
        break;
      case Block::Kind::kTable: {
        TextTable table(block.table.header);
        for (const auto& row : block.table.rows) table.add_row(row);
        table.print(out);
        break;
      }
      case Block::Kind::kPlot:
        break;  // a terminal shows no SVG: the report has them
    }
  }
  return out.str();
}

}  // namespace sweep::fit
