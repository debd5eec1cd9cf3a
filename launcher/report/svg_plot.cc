// The report's page and its plots: SVG written by hand, so the file needs nothing else.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "run_report.h"

namespace trainctl::report {
namespace {

constexpr double kWidth = 760, kHeight = 260;
constexpr double kLeft = 70, kRight = 20, kTop = 30, kBottom = 40;

std::string Fixed(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value);
  return buffer;
}

std::string Tick(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

// A line plot of `points` against seconds, with the restarts as red vertical lines.
std::string Plot(const std::string& id, const std::string& title, const std::vector<Point>& points,
                 const std::vector<Marker>& restarts, double max_x) {
  std::string svg = "<svg id=\"" + id + "\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" " +
                    "width=\"" + Fixed(kWidth) + "\" height=\"" + Fixed(kHeight) +
                    "\" viewBox=\"0 0 " + Fixed(kWidth) + " " + Fixed(kHeight) + "\">\n";
  svg += "<title>" + HtmlEscape(title) + "</title>\n";
  svg += "<text x=\"" + Fixed(kLeft) + "\" y=\"18\" font-size=\"14\">" + HtmlEscape(title) +
         "</text>\n";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Point& p : points) {
    if (std::isfinite(p.y)) {
      lo = std::min(lo, p.y);
      hi = std::max(hi, p.y);
    }
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) hi = lo + 1;
  max_x = std::max(max_x, 1e-9);
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  auto X = [&](double x) { return kLeft + w * x / max_x; };
  auto Y = [&](double y) { return kTop + h * (1 - (y - lo) / (hi - lo)); };
  svg += "<rect x=\"" + Fixed(kLeft) + "\" y=\"" + Fixed(kTop) + "\" width=\"" + Fixed(w) +
         "\" height=\"" + Fixed(h) + "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = lo + (hi - lo) * i / 4, x = max_x * i / 4;
    svg += "<text x=\"" + Fixed(kLeft - 6) + "\" y=\"" + Fixed(Y(y) + 4) +
           "\" font-size=\"11\" text-anchor=\"end\">" + Tick(y) + "</text>\n";
    svg += "<text x=\"" + Fixed(X(x)) + "\" y=\"" + Fixed(kHeight - kBottom + 16) +
           "\" font-size=\"11\" text-anchor=\"middle\">" + Tick(x) + "</text>\n";
  }
  svg += "<text x=\"" + Fixed(kLeft + w / 2) + "\" y=\"" + Fixed(kHeight - 6) +
         "\" font-size=\"11\" text-anchor=\"middle\">seconds since the job started</text>\n";
  for (const Marker& m : restarts) {
    svg += "<line class=\"restart\" x1=\"" + Fixed(X(m.x)) + "\" x2=\"" + Fixed(X(m.x)) +
           "\" y1=\"" + Fixed(kTop) + "\" y2=\"" + Fixed(kTop + h) +
           "\" stroke=\"#d00\" stroke-dasharray=\"4 3\"><title>restart: " + HtmlEscape(m.label) +
           "</title></line>\n";
  }
  std::string path;
  for (const Point& p : points) {
    if (!std::isfinite(p.y)) continue;
    path += (path.empty() ? "" : " ") + Fixed(X(p.x)) + "," + Fixed(Y(p.y));
  }
  svg += "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"" + path +
         "\"/>\n</svg>\n";
  return svg;
}

}  // namespace

std::string RenderHtml(const RunReport& r) {
  double max_x = r.cost.wall_seconds;
  for (const auto* series : {&r.loss, &r.samples_per_s}) {
    for (const Point& p : *series) max_x = std::max(max_x, p.x);
  }
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>trainctl "
      "report: " +
      HtmlEscape(r.job) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:820px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left}svg{display:block;margin:1em 0}</style>\n</head>\n<body>\n";
  html += "<h1>Job " + HtmlEscape(r.job) + "</h1>\n";
  html += "<p>" +
          std::string(r.exit_code == 0  ? "Succeeded"
                      : r.exit_code < 0 ? "Did not finish (or its end was not recorded)"
                                        : "Failed with exit code " + std::to_string(r.exit_code)) +
          "; last step " + std::to_string(r.last_step) + ".</p>\n";
  html += "<h2>Cost</h2>\n<ul>\n";
  for (const std::string& line : SummaryLines(r)) html += "<li>" + HtmlEscape(line) + "</li>\n";
  html += "</ul>\n<h2>Plots</h2>\n<p>Dashed red lines mark restarts.</p>\n";
  html += Plot("loss", "loss (mean over ranks)", r.loss, r.restarts, max_x);
  for (const auto& [name, series] : r.accuracy) {
    html += Plot("accuracy-" + HtmlEscape(name), HtmlEscape(name), series, r.restarts, max_x);
  }
  html += Plot("samples-per-second", "samples/s (all ranks)", r.samples_per_s, r.restarts, max_x);
  if (!r.restarts.empty() || !r.chaos.empty()) {
    html += "<h2>Events</h2>\n<table>\n<tr><th>second</th><th>event</th></tr>\n";
    std::vector<std::pair<double, std::string>> events;
    for (const Marker& m : r.restarts) events.push_back({m.x, "restart: " + m.label});
    for (const Marker& m : r.chaos) events.push_back({m.x, "chaos: " + m.label});
    std::sort(events.begin(), events.end());
    for (const auto& [x, text] : events) {
      html += "<tr><td>" + Fixed(x) + "</td><td>" + HtmlEscape(text) + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace trainctl::report
