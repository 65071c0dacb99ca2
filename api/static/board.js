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
  var kiosk = script && script.getAttribute("data-kiosk") === "1";
  var pageInfo = document.getElementById("board-page");
  var wasOverdue = {};  // id -> true: rows already overdue, so only a row that just became overdue flashes

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }
  function span(seconds) { return window.deskSpan(seconds * 1000); }  // desk.js: the one formatter
  var serverClock = window.deskClock || {now: Date.now, sync: function () {}};
  function tick() {
    var now = serverClock.now();
    body.querySelectorAll(".countdown[data-board-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-board-due")) - now) / 1000;
      el.textContent = left >= 0 ? fmt(clock.left || "%(t)s left", {t: span(left)})
                                 : fmt(clock.overdue || "overdue by %(t)s", {t: span(-left)});
      el.className = "countdown " + (left < 0 ? "red" : (el.closest("tr.row-at_risk") ? "amber" : "green"));
      var tr = el.closest("tr"), id = tr && tr.getAttribute("data-id");
      if (id && left < 0 && !wasOverdue[id]) {
        if (wasOverdue[id] === false) tr.classList.add("just-overdue");  // seen on track, now overdue
        wasOverdue[id] = true;
      } else if (id && !(id in wasOverdue)) { wasOverdue[id] = left < 0; }
    });
  }
  // The wall screen pages through the rows that do not fit, one screen every 10 s.
  var page = 0;
  function turn() {
    if (!kiosk) return;
    var rows = Array.from(body.querySelectorAll("tr"));
    rows.forEach(function (tr) { tr.hidden = false; });
    var top = body.getBoundingClientRect().top + window.scrollY;
    var height = rows.length ? rows[0].getBoundingClientRect().height || 60 : 60;
    var per = Math.max(1, Math.floor((window.innerHeight - top - 16) / height));
    var pages = Math.max(1, Math.ceil(rows.length / per));
    page = page % pages;
    rows.forEach(function (tr, i) { tr.hidden = Math.floor(i / per) !== page; });
    if (pageInfo) pageInfo.textContent = pages > 1 ? fmt(words.page, {n: page + 1, total: pages}) : "";
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function labelled(td, column) {
    td.setAttribute("data-label", words.columns[column]);
    return td;
  }
  function notices(r) {
    var parts = [];
    if (r.reminders) parts.push(fmt(words.reminded, {n: r.reminders}));
    if (r.escalations) parts.push(fmt(words.escalated, {n: r.escalations}));
    if (r.failures) parts.push(fmt(words.failed, {n: r.failures}));
    if (r.unreached) parts.push(fmt(words.unreached, {n: r.unreached}));
    if (r.tasks_open) parts.push(fmt(words.tasks, {n: r.tasks_open}) + (r.tasks_overdue ? " (" + fmt(words.tasks_overdue, {n: r.tasks_overdue}) + ")" : ""));
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
      first.className = "title-cell";
      labelled(cell(tr), "level").appendChild(level);
      labelled(cell(tr, r.party_name), "party");
      // Every missed deadline, the release first; else the next one.
      var missed = r.missed || [], shown = missed.length ? missed : (r.next_milestone ? [r.next_milestone] : []);
      var ms = labelled(cell(tr), "milestone");
      if (missed.length > 1) {
        var badge = document.createElement("span");
        badge.className = "badge missed";
        badge.textContent = fmt(words.missed, {n: missed.length});
        ms.appendChild(badge);
        ms.appendChild(document.createTextNode(" "));
      }
      ms.appendChild(document.createTextNode(shown.map(function (m) {
        return words.milestones[m.key] || m.label;
      }).join(" · ") || "—"));
      var due = labelled(cell(tr), "left");
      if (shown.length) {
        var c = document.createElement("span");
        c.className = "countdown";
        c.setAttribute("role", "timer");
        c.setAttribute("data-board-due", shown[0].due_at);
        due.appendChild(c);
      } else { due.textContent = "—"; }
      var n = labelled(cell(tr, notices(r) || words.none), "notices");
      n.className = "small" + (notices(r) ? "" : " muted") + (r.failures || r.unreached || r.tasks_overdue ? " bad" : "");
      rows.appendChild(tr);
    });
    if (!data.rows.length) {
      var tr = document.createElement("tr"), td = cell(tr, words.empty);
      td.colSpan = 6;
      td.className = "muted";
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    body.querySelectorAll("tr[data-id]").forEach(function (tr) {
      var id = tr.getAttribute("data-id");
      if (tr.classList.contains("row-overdue") && wasOverdue[id] === false) tr.classList.add("just-overdue");
      if (tr.classList.contains("row-overdue")) wasOverdue[id] = true;
    });
    // More incidents match than the API returns (its limit): say how many are left out.
    var notice = data.truncated ? fmt(words.truncated, {n: data.rows.length, total: data.matching}) : "";
    if (cut.textContent !== notice) cut.textContent = notice;  // unchanged: not announced again
    cut.hidden = !data.truncated;
    tick();
    var t = new Date(serverClock.now()).toLocaleTimeString(words.lang === "en" ? "en-GB" : "zh-CN",
                                                          {hour12: false, timeZone: "Asia/Shanghai"});
    status.textContent = fmt(words.updated, {t: t, n: poll / 1000});
    turn();
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
  if (kiosk) { turn(); setInterval(function () { page++; turn(); }, 10000); }
  timer = setTimeout(refresh, poll);
})();
