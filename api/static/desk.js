// Opinion Response Desk: small progressive enhancement. Every page works without it.
(function () {
  "use strict";
  var words = {};
  try { words = JSON.parse(document.body.getAttribute("data-i18n") || "{}"); } catch (e) { words = {}; }
  var BEIJING = 8 * 3600 * 1000; // China keeps one offset all year

  // Count from the server's clock, not the PC's: the page says what time it was made; the difference to the
  // PC's clock (less the short time the page took to arrive) is kept, and the board corrects it on each poll.
  var made = Number(document.body.getAttribute("data-server-now")) || 0;
  var skew = made ? made - Date.now() : 0;
  window.deskSpan = function (ms) { return span(ms); };
  window.deskClock = {
    now: function () { return Date.now() + skew; },
    sync: function (serverMs) { if (serverMs) skew = serverMs - Date.now(); }
  };

  function fill(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }

  // The one duration formatter (api/web/views.py span): days only from 72 hours on, as the policy speaks.
  function span(ms) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var days = total >= 72 * 3600 ? Math.floor(total / 86400) : 0;
    var units = [[days, words.days], [Math.floor((total - days * 86400) / 3600), words.hours],
      [Math.floor(total % 3600 / 60), words.minutes], [total % 60, words.seconds]];
    var first = 0;
    while (first < 3 && !units[first][0]) first++;
    // The largest unit, and the next one when it is not zero: 2天3小时 / 1小时 / 5分30秒.
    var parts = [fill(units[first][1], { n: units[first][0] })];
    if (first < 3 && units[first + 1][0]) parts.push(fill(units[first + 1][1], { n: units[first + 1][0] }));
    return parts.join(words.sep || "");
  }

  // Countdowns: green, amber once a reminder rung has passed, red when overdue.
  function tick() {
    var now = window.deskClock.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var amberAt = el.getAttribute("data-amber") ? Date.parse(el.getAttribute("data-amber")) : NaN;
      var left = due - now;
      var tone = left <= 0 ? "red" : (!isNaN(amberAt) && now >= amberAt ? "amber" : "green");
      el.classList.remove("green", "amber", "red");
      el.classList.add(tone);
      el.textContent = fill(left > 0 ? words.left : words.overdue, { t: span(left) });
    });
  }
  if (document.querySelector(".countdown[data-due]")) { tick(); setInterval(tick, 1000); }

  // Printing: the stamp says when it was printed (server time), not when the page was loaded.
  window.addEventListener("beforeprint", function () {
    var stamp = document.querySelector(".print-stamp");
    var d = new Date(window.deskClock.now() + BEIJING), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (stamp) stamp.textContent = stamp.textContent.replace(/\d{4}-\d\d-\d\d \d\d:\d\d/, d.getUTCFullYear() + "-" +
      pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()));
  });

  // Confirm what an action changes before it is sent; one submit per form (no double click).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var message = form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) { ev.preventDefault(); return; }
      if (form.getAttribute("data-sent")) { ev.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
      // A disabled button no longer sends its name/value: carry it in a hidden field.
      if (ev.submitter && ev.submitter.name) {
        var carry = document.createElement("input");
        carry.type = "hidden"; carry.name = ev.submitter.name; carry.value = ev.submitter.value;
        form.appendChild(carry);
      }
    });
  });

  // Searchable select: typing filters the options (by name or code).
  document.querySelectorAll("input[data-filter-for]").forEach(function (input) {
    var select = document.getElementById(input.getAttribute("data-filter-for"));
    if (!select) return;
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var first = null;
      Array.prototype.forEach.call(select.options, function (opt) {
        var hit = !q || opt.value === "" || opt.text.toLowerCase().indexOf(q) >= 0 || opt.value.indexOf(q) >= 0;
        opt.hidden = !hit;
        if (hit && opt.value && !first) first = opt;
      });
      var current = select.options[select.selectedIndex];
      if (q && first && (!current || current.hidden || !current.value)) { select.value = first.value; select.dispatchEvent(new Event("change")); }
    });
  });

  // New incident form: the deadlines the chosen level gets under the active policy.
  var preview = document.getElementById("deadline-preview");
  if (preview) {
    var data = JSON.parse(document.getElementById("deadline-data").textContent);
    var form = preview.closest("form");
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var show = function (ms) {
      var d = new Date(ms + BEIJING);
      return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
        pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    };
    var update = function () {
      var level = form.elements.level.value;
      var category = form.elements.category.value;
      if (!level && data.ungraded.indexOf(category) >= 0) level = "IV";
      var policy = form.elements.drill && form.elements.drill.checked ? data.drill : data.normal;
      var list = preview.querySelector("ul");
      var lead = preview.querySelector(".lead");
      list.innerHTML = "";
      lead.textContent = fill(data.words.policy, { name: policy.name });
      if (!level) { lead.textContent = data.words.choose; return; }
      var typed = form.elements.detected_at.value; // YYYY-MM-DDTHH:MM, Beijing time
      var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(typed);
      var start = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) - BEIJING : window.deskClock.now();
      (policy.levels[level] || []).forEach(function (row) {
        var li = document.createElement("li");
        if (row.working_days) {
          // Working days are counted on the server (holidays, make-up working days), for the detection time the
          // page was rendered with; another typed time gets its due time when the incident is opened.
          li.textContent = row.due !== null && typed.slice(0, 16) === data.start
            ? fill(data.words.working_row, { label: row.label, due: show(row.due), n: row.working_days })
            : fill(data.words.working_row_open, { label: row.label, n: row.working_days });
        } else {
          li.textContent = fill(data.words.row, { label: row.label, due: show(start + row.seconds * 1000), span: span(row.seconds * 1000) });
        }
        list.appendChild(li);
      });
      if (policy.follow_up) {
        var li = document.createElement("li");
        li.textContent = fill(data.words.follow_up, { span: span(policy.follow_up * 1000) });
        list.appendChild(li);
      }
    };
    ["level", "category", "detected_at", "drill"].forEach(function (name) {
      var el = form.elements[name];
      if (el) { el.addEventListener("change", update); el.addEventListener("input", update); }
    });
    update();
  }

  // Attachments: files dropped on the field are the field's files; the names chosen are shown.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), function (form) {
    var zone = form.querySelector(".dropzone");
    var input = form.querySelector("input[type=file][multiple]");
    var chosen = form.querySelector(".chosen");
    if (!zone || !input) return;
    function show() {
      var names = [];
      Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (el) {
        Array.prototype.forEach.call(el.files || [], function (f) { names.push(f.name); });
      });
      if (chosen) chosen.textContent = names.join("、");
    }
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show();
      }
    });
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (el) {
      el.addEventListener("change", show);
    });
  });
})();

// The release form offers its category's template (事实 · 措施 · 结果/进展): one button fills the parts still empty,
// for the responder to edit; what is already typed is never overwritten.
(function () {
  document.querySelectorAll("button.use-template").forEach(function (button) {
    button.addEventListener("click", function () {
      var box = button.closest("fieldset");
      box.querySelectorAll("textarea[data-template]").forEach(function (area) {
        if (!area.value.trim()) { area.value = area.getAttribute("data-template"); }
      });
      var first = box.querySelector("textarea");
      if (first) { first.focus(); }
    });
  });
  // New incident form: likely duplicates of the title being typed (last 14 days), asked of the server a moment
  // after typing stops; each can be linked as related or merged into (the radio "then").
  var dupes = document.getElementById("duplicates");
  if (dupes) {
    var dform = dupes.closest("form");
    var dwords = JSON.parse(dupes.getAttribute("data-words") || "{}");
    var list = dupes.querySelector("ul.similar");
    var timer = null, asked = "";
    var choice = function (value, label) {
      var l = document.createElement("label"), r = document.createElement("input");
      l.className = "check"; r.type = "radio"; r.name = "then"; r.value = value;
      var chosen = dform.querySelector("input[name=then]:checked");
      r.checked = !!chosen && chosen.value === value;
      l.appendChild(r); l.appendChild(document.createTextNode(" " + label));
      return l;
    };
    var render = function (rows) {
      var chosen = dform.querySelector("input[name=then]:checked");
      var keep = chosen ? chosen.value : "";
      list.innerHTML = "";
      rows.forEach(function (row) {
        var li = document.createElement("li"), a = document.createElement("a"), meta = document.createElement("span");
        li.setAttribute("data-id", row.id);
        a.href = "/incidents/" + encodeURIComponent(row.id); a.target = "_blank"; a.textContent = row.id + " " + row.title;
        meta.className = "muted small";
        meta.textContent = " " + row.party + " · " + (dwords.statuses[row.status] || row.status);
        var choices = document.createElement("span");
        choices.className = "choices";
        choices.appendChild(choice("link:" + row.id, dwords.link));
        if (row.status === "open") choices.appendChild(choice("merge:" + row.id, dwords.merge));
        li.appendChild(a); li.appendChild(meta); li.appendChild(choices);
        list.appendChild(li);
      });
      var still = keep && dform.querySelector("input[name=then][value='" + keep.replace(/'/g, "") + "']");
      if (!still) dform.querySelector("input[name=then][value='']").checked = true;
      dupes.hidden = rows.length === 0 && !dupes.classList.contains("invalid");
    };
    var ask = function () {
      var title = dform.elements.title.value.trim(), summary = dform.elements.summary.value.trim();
      var q = "title=" + encodeURIComponent(title) + "&summary=" + encodeURIComponent(summary.slice(0, 300));
      if (q === asked) return;
      asked = q;
      if (!title) { render([]); return; }
      fetch("/api/incidents/similar?" + q, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (rows) { if (rows && q === asked) render(rows); })
        .catch(function () { /* the hint is a help, never a blocker */ });
    };
    ["title", "summary"].forEach(function (name) {
      dform.elements[name].addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 400); });
    });
  }
})();
