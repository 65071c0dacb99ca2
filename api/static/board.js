/* Supervisor board: polls /api/board with the page's filters and redraws the rows and counts in place. */
(function () {
  "use strict";
  var script = document.currentScript;
  var poll = (Number(script && script.getAttribute("data-poll")) || 3) * 1000;
  var words = JSON.parse(document.getElementById("board-words").textContent);
  var body = document.getElementById("board-rows");
  var form = document.getElementById("board-filters");
  var status = document.getElementById("board-status");
  var cut = document.getElementById("board-truncated");
  var clock = JSON.parse(document.body.getAttribute("data-i18n") || "{}");

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }
  function span(seconds) {
    var t = Math.abs(Math.floor(seconds)), d = Math.floor(t / 86400), h = Math.floor(t % 86400 / 3600);
    var m = Math.floor(t % 3600 / 60), s = t % 60, parts = [];
    if (d) parts.push(fmt(clock.days || "%(n)sd", {n: d}));
    if (h) parts.push(fmt(clock.hours || "%(n)sh", {n: h}));
    if (!d && (m || h)) parts.push(fmt(clock.minutes || "%(n)smin", {n: m}));
    if (!d && !h) parts.push(fmt(clock.seconds || "%(n)ss", {n: s}));
    return parts.join(clock.sep === undefined ? "" : clock.sep);
  }
  var serverClock = window.deskClock || {now: Date.now, sync: function () {}};
  function tick() {
    var now = serverClock.now();
    body.querySelectorAll(".countdown[data-board-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-board-due")) - now) / 1000;
      el.textContent = left >= 0 ? fmt(clock.left || "%(t)s left", {t: span(left)})
                                 : fmt(clock.overdue || "overdue by %(t)s", {t: span(-left)});
      el.className = "countdown " + (left < 0 ? "red" : (el.closest("tr.row-at_risk") ? "amber" : "green"));
    });
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function notices(r) {
    var parts = [];
    if (r.reminders) parts.push(fmt(words.reminded, {n: r.reminders}));
    if (r.escalations) parts.push(fmt(words.escalated, {n: r.escalations}));
    if (r.failures) parts.push(fmt(words.failed, {n: r.failures}));
    return parts.join(" · ");
  }
  function draw(data) {
    serverClock.sync(Date.parse(data.now));
    Object.keys(data.counts).forEach(function (k) {
      var el = document.querySelector('[data-count="' + k + '"]');
      if (el) el.textContent = data.counts[k];
    });
    var rows = document.createDocumentFragment();
    data.rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.className = "row-" + r.status + (r.drill ? " row-drill" : "");
      tr.setAttribute("data-id", r.id);
      var first = cell(tr), a = document.createElement("a");
      a.href = "/board/incidents/" + encodeURIComponent(r.id);
      a.textContent = r.id;
      first.appendChild(a);
      if (r.drill) {
        var b = document.createElement("span");
        b.className = "badge drill";
        b.textContent = words.drill;
        first.appendChild(document.createTextNode(" "));
        first.appendChild(b);
      }
      first.appendChild(document.createTextNode(" " + r.title));
      var level = document.createElement("span");
      level.className = "badge level-" + r.level;
      level.textContent = words.levels[r.level] || r.level;
      cell(tr).appendChild(level);
      cell(tr, r.party_name);
      cell(tr, r.next_milestone ? r.next_milestone.label : "—");
      var due = cell(tr);
      if (r.next_milestone) {
        var c = document.createElement("span");
        c.className = "countdown";
        c.setAttribute("role", "timer");
        c.setAttribute("data-board-due", r.next_milestone.due_at);
        due.appendChild(c);
      } else { due.textContent = "—"; }
      var n = cell(tr, notices(r) || words.none);
      n.className = "small" + (notices(r) ? "" : " muted");
      rows.appendChild(tr);
    });
    if (!data.rows.length) {
      var tr = document.createElement("tr"), td = cell(tr, words.empty);
      td.colSpan = 6;
      td.className = "muted";
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    // More incidents match than the API returns (its limit): say how many are left out.
    var notice = data.truncated ? fmt(words.truncated, {n: data.rows.length, total: data.matching}) : "";
    if (cut.textContent !== notice) cut.textContent = notice;  // unchanged: not announced again
    cut.hidden = !data.truncated;
    tick();
    var t = new Date(serverClock.now()).toLocaleTimeString(words.lang === "en" ? "en-GB" : "zh-CN",
                                                          {hour12: false, timeZone: "Asia/Shanghai"});
    status.textContent = fmt(words.updated, {t: t, n: poll / 1000});
  }
  function query() {
    var params = new URLSearchParams(new FormData(form));
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) params.delete(k); });
    return params.toString();
  }
  var timer = null;
  function refresh() {
    clearTimeout(timer);
    var q = query();
    fetch("/api/board" + (q ? "?" + q : ""), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("login"); }
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(draw)
      .catch(function () { status.textContent = words.offline; })
      .finally(function () { timer = setTimeout(refresh, poll); });
  }
  // Filters apply at once and stay in the address bar, so a reload or a shared link keeps them.
  form.addEventListener("change", function () {
    var q = query();
    history.replaceState(null, "", "/board" + (q ? "?" + q : ""));
    refresh();
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); form.dispatchEvent(new Event("change")); });
  tick();
  setInterval(tick, 1000);
  timer = setTimeout(refresh, poll);
})();
