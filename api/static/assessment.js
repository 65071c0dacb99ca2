/* Assessment charts (Apache ECharts, served locally). Every chart has the same figures in a table below it. */
(function () {
  "use strict";
  if (!window.echarts) return;
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var w = data.words;
  // The page's own colours: green on time, amber late, red overdue (desk.css), a neutral blue for counts.
  var GREEN = "#17703a", AMBER = "#d69e2e", RED = "#a61b1b", GREY = "#7b8794", BLUE = "#3d6a9e";
  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el, null, {renderer: "svg"});
    c.setOption(Object.assign({tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 48, right: 48, top: 36, bottom: 56}}, option));
    window.addEventListener("resize", function () { c.resize(); });
  }
  chart("chart-parties", {
    xAxis: {type: "category", data: data.parties.map(function (p) { return p.name; }), axisLabel: {rotate: 30, interval: 0}},
    yAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
    series: [
      {name: w.on_time, type: "bar", itemStyle: {color: GREEN}, data: data.parties.map(function (p) { return pct(p.on_time); })},
      {name: w.response, type: "bar", itemStyle: {color: BLUE}, data: data.parties.map(function (p) { return pct(p.response); })}
    ]
  });
  var buckets = ["met", "met_late", "overdue", "waived", "pending"];
  var colors = {met: GREEN, met_late: AMBER, overdue: RED, waived: GREY, pending: "#9fb3c8"};
  chart("chart-milestones", {
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
    xAxis: {type: "value"},
    yAxis: {type: "category", data: data.milestones.map(function (m) { return m.name; })},
    series: buckets.map(function (b) {
      return {name: w[b], type: "bar", stack: "all", itemStyle: {color: colors[b]},
              data: data.milestones.map(function (m) { return m[b]; })};
    })
  });
  chart("chart-monthly", {
    xAxis: {type: "category", data: data.monthly.map(function (m) { return m.month; })},
    yAxis: [{type: "value", name: w.incidents}, {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}}],
    series: [
      {name: w.incidents, type: "bar", itemStyle: {color: "#bcccdc"}, data: data.monthly.map(function (m) { return m.incidents; })},
      {name: w.on_time, type: "line", yAxisIndex: 1, connectNulls: true, itemStyle: {color: GREEN}, data: data.monthly.map(function (m) { return pct(m.on_time_rate); })},
      {name: w.response, type: "line", yAxisIndex: 1, connectNulls: true, itemStyle: {color: BLUE}, data: data.monthly.map(function (m) { return pct(m.response_rate); })}
    ]
  });
  chart("chart-release", {
    legend: {show: false},
    xAxis: {type: "category", data: data.release.map(function (b) { return b.label; })},
    yAxis: {type: "value", minInterval: 1},
    series: [{name: w.incidents, type: "bar", itemStyle: {color: BLUE}, data: data.release.map(function (b) { return b.count; })}]
  });
})();
