// The report's page and its plots: SVG written by hand, so the file needs nothing else.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <tuple>

#include "plot_scale.h"
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

// What the x axis shows, and how its values are scaled (seconds, minutes or hours).
struct XFrame {
  XAxis axis = XAxis::kStep;
  double scale = 1;  // seconds per unit on a time axis
  std::string label;
  Ticks ticks;
  double Of(double seconds, std::int64_t step) const {
    return axis == XAxis::kStep ? static_cast<double>(step) : seconds / scale;
  }
};

XFrame MakeXFrame(const RunReport& r, XAxis axis) {
  XFrame f;
  f.axis = axis;
  double hi = 1;
  if (axis == XAxis::kStep) {
    f.label = "step";
    hi = std::max<double>(1, static_cast<double>(r.last_step));
    f.ticks = NiceTicks(0, hi, static_cast<int>(std::min<double>(5, hi)));
    return f;
  }
  double seconds = r.cost.wall_seconds;
  for (const auto* series : {&r.loss, &r.samples_per_s}) {
    for (const Point& p : *series) seconds = std::max(seconds, p.x);
  }
  f.scale = seconds > 3 * 3600 ? 3600 : seconds > 180 ? 60 : 1;
  f.label = std::string(f.scale == 3600 ? "hours"
                        : f.scale == 60 ? "minutes"
                                        : "seconds") +
            " since the job started";
  f.ticks = NiceTicks(0, std::max(seconds / f.scale, 1e-3));
  return f;
}

// The points of each round (restart count) in x order: a line per round, never across a restart.
std::vector<std::vector<Point>> Segments(const std::vector<Point>& points, const XFrame& f) {
  std::map<std::int64_t, std::vector<Point>> by_restart;
  for (const Point& p : points) {
    if (std::isfinite(p.y)) by_restart[p.restart].push_back(p);
  }
  std::vector<std::vector<Point>> segments;
  for (auto& [restart, segment] : by_restart) {
    std::stable_sort(segment.begin(), segment.end(), [&f](const Point& a, const Point& b) {
      return f.Of(a.x, a.step) < f.Of(b.x, b.step);
    });
    segments.push_back(std::move(segment));
  }
  return segments;
}

// A line plot of `points`, one line per round, with the restarts as red vertical lines.
std::string Plot(const std::string& id, const std::string& title, const std::vector<Point>& points,
                 const std::vector<Marker>& restarts, const XFrame& f) {
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
  const Ticks y_ticks = NiceTicks(lo, hi);
  const Ticks& x_ticks = f.ticks;
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  auto X = [&](double x) { return kLeft + w * (x - x_ticks.lo) / (x_ticks.hi - x_ticks.lo); };
  auto Y = [&](double y) { return kTop + h * (1 - (y - y_ticks.lo) / (y_ticks.hi - y_ticks.lo)); };
  svg += "<rect x=\"" + Fixed(kLeft) + "\" y=\"" + Fixed(kTop) + "\" width=\"" + Fixed(w) +
         "\" height=\"" + Fixed(h) + "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double y : y_ticks.values) {
    svg += "<text class=\"ytick\" x=\"" + Fixed(kLeft - 6) + "\" y=\"" + Fixed(Y(y) + 4) +
           "\" font-size=\"11\" text-anchor=\"end\">" + HumanNumber(y, y_ticks.step) + "</text>\n";
  }
  for (double x : x_ticks.values) {
    svg += "<text class=\"xtick\" x=\"" + Fixed(X(x)) + "\" y=\"" + Fixed(kHeight - kBottom + 16) +
           "\" font-size=\"11\" text-anchor=\"middle\">" + HumanNumber(x, x_ticks.step) +
           "</text>\n";
  }
  svg += "<text x=\"" + Fixed(kLeft + w / 2) + "\" y=\"" + Fixed(kHeight - 6) +
         "\" font-size=\"11\" text-anchor=\"middle\">" + f.label + "</text>\n";
  for (const Marker& m : restarts) {
    const double x = X(f.Of(m.x, m.step));
    svg += "<line class=\"restart\" x1=\"" + Fixed(x) + "\" x2=\"" + Fixed(x) + "\" y1=\"" +
           Fixed(kTop) + "\" y2=\"" + Fixed(kTop + h) +
           "\" stroke=\"#d00\" stroke-dasharray=\"4 3\"><title>restart: " + HtmlEscape(m.label) +
           "</title></line>\n";
  }
  const double weight = SmoothingFor(points.size());
  // Each round its own colour, so that steps redone after a restart stand apart.
  const char* const palette[] = {"#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a"};
  std::size_t round = 0;
  for (const std::vector<Point>& segment : Segments(points, f)) {
    const std::string colour = palette[round++ % std::size(palette)];
    std::vector<double> ys;
    for (const Point& p : segment) ys.push_back(p.y);
    auto line = [&](const std::vector<double>& values, const std::string& attributes) {
      std::string path;
      for (std::size_t i = 0; i < segment.size(); ++i) {
        path += (path.empty() ? "" : " ") + Fixed(X(f.Of(segment[i].x, segment[i].step))) + "," +
                Fixed(Y(values[i]));
      }
      // A round of one point is a dot: a polyline of one point draws nothing.
      if (segment.size() == 1) path += " " + path;
      svg += "<polyline " + attributes + " fill=\"none\" points=\"" + path + "\"/>\n";
    };
    if (weight > 0) {
      line(ys,
           "class=\"raw\" stroke=\"" + colour + "\" stroke-opacity=\"0.25\" stroke-width=\"1\"");
      line(Smooth(ys, weight), "class=\"smoothed\" stroke=\"" + colour + "\" stroke-width=\"1.8\"");
    } else {
      line(ys,
           "class=\"raw\" stroke=\"" + colour + "\" stroke-width=\"1.5\" stroke-linecap=\"round\"");
    }
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string RenderHtml(const RunReport& r, XAxis x_axis) {
  const XFrame frame = MakeXFrame(r, x_axis);
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
  html += "</ul>\n<h2>Plots</h2>\n<p>Against " + frame.label +
          ". Dashed red lines mark restarts; each round is a line of its own colour (steps redone "
          "after "
          "a restart are drawn again); noisy curves are smoothed, their raw points faint.</p>\n";
  html += Plot("loss", "loss (mean over ranks)", r.loss, r.restarts, frame);
  for (const auto& [name, series] : r.accuracy) {
    html += Plot("accuracy-" + HtmlEscape(name), HtmlEscape(name), series, r.restarts, frame);
  }
  html += Plot("samples-per-second", "samples/s (all ranks)", r.samples_per_s, r.restarts, frame);
  if (!r.restarts.empty() || !r.chaos.empty()) {
    html += "<h2>Events</h2>\n<table>\n<tr><th>second</th><th>step</th><th>event</th></tr>\n";
    std::vector<std::tuple<double, std::int64_t, std::string>> events;
    for (const Marker& m : r.restarts) events.push_back({m.x, m.step, "restart: " + m.label});
    for (const Marker& m : r.chaos) events.push_back({m.x, m.step, "chaos: " + m.label});
    std::sort(events.begin(), events.end());
    for (const auto& [x, step, text] : events) {
      html += "<tr><td>" + Fixed(x) + "</td><td>" + std::to_string(step) + "</td><td>" +
              HtmlEscape(text) + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace trainctl::report
