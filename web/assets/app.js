// synfin web: plays a View (see package web) on the server-drawn figures.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SVGNS = "http://www.w3.org/2000/svg";

  const ui = {
    scenario: $("#scenario"), file: $("#file"), conn: $("#conn"), error: $("#error"),
    title: $("#title"), description: $("#description"), player: $("#player"),
    slider: $("#slider"), counter: $("#counter"), permalink: $("#permalink"), play: $("#play"),
    ends: $("#ends"), segments: $("#segments"), cwndNote: $("#cwnd-note"), events: $("#events"), notes: $("#notes"),
    ladder: $("#ladder"), diagram: $("#diagram"),
  };
  // The page's state: the view shown, where it came from, the step shown
  // (0: before the first step).
  const st = { view: null, key: "", capture: null, step: 0, timer: null, index: null };
  window.synfin = st;

  function showError(msg) {
    ui.error.textContent = msg || "";
    ui.error.hidden = !msg;
  }

  async function getJSON(url, init) {
    const r = await fetch(url, init);
    let body;
    try { body = await r.json(); } catch (e) { throw new Error(url + ": " + r.status + " " + r.statusText); }
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  function parseHash() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ""));
    return { scenario: p.get("scenario"), capture: p.get("capture"), conn: +(p.get("conn") || 1), step: +(p.get("step") || 0) };
  }

  function hashFor(step) {
    return "#" + st.view.id + "&step=" + step;
  }

  // load shows what the fragment names.
  async function load() {
    const h = parseHash();
    let key, get;
    if (h.capture) {
      key = "capture=" + h.capture + "&conn=" + h.conn;
      get = async () => {
        if (!st.capture || st.capture.id !== h.capture) st.capture = await getJSON("/api/captures/" + encodeURIComponent(h.capture));
        const v = st.capture.conns.find(c => c.id === key) || st.capture.conns[0];
        if (!v) throw new Error("the capture holds no TCP connection");
        return v;
      };
    } else {
      const name = h.scenario || document.body.dataset.view?.replace(/^scenario=/, "") || ui.scenario.value;
      key = "scenario=" + name;
      get = () => getJSON("/api/scenarios/" + encodeURIComponent(name));
    }
    try {
      if (key !== st.key) {
        stop();
        const v = await get();
        show(v);
        st.key = key;
      }
      showError("");
      go(h.step || 0);
    } catch (e) {
      showError(e.message);
    }
  }

  // show puts a view's figures on the page and indexes their elements.
  function show(v) {
    st.view = v;
    document.body.dataset.view = v.id;
    document.body.dataset.steps = v.steps.length;
    ui.title.textContent = v.title;
    ui.description.textContent = v.description || "";
    ui.ladder.innerHTML = v.ladder_svg;
    ui.diagram.innerHTML = v.diagram_svg;
    ui.player.hidden = false;
    ui.ends.hidden = false;
    ui.slider.max = v.steps.length;
    document.documentElement.style.setProperty("--c0", v.colors[0]);
    document.documentElement.style.setProperty("--c1", v.colors[1]);
    if (v.id.startsWith("scenario=")) {
      ui.scenario.value = v.id.slice("scenario=".length);
      ui.conn.hidden = true;
    } else {
      ui.scenario.value = "";
      fillConns();
    }
    for (let s = 0; s < 2; s++) {
      const e = $("#end-" + s);
      e.style.setProperty("--c", v.colors[s]);
      $(".name", e).textContent = v.names[s];
    }
    ui.notes.replaceChildren(...(v.notes || []).map(n => li(n)));
    ui.cwndNote.textContent = v.cwnd_note || "";
    document.body.dataset.cwnd = v.cwnd_source || "";

    // When each segment is sent and arrives, when each ladder state label
    // and each diagram transition happens.
    const msgs = {}, changes = [{}, {}], trans = [{}, {}];
    v.steps.forEach(step => {
      (step.segments || []).forEach(g => {
        const m = msgs[g.index] || (msgs[g.index] = { sent: Infinity, end: 0 });
        if (g.event === "sent") m.sent = step.n; else m.end = step.n;
      });
      (step.changes || []).forEach(c => {
        changes[c.side][c.ladder_index] = step.n;
        if (c.path_step) trans[c.side][c.path_step] = step.n;
      });
    });
    const ladder = $("svg", ui.ladder), diagram = $("svg", ui.diagram);
    const sides = ["left", "right"];
    const idx = {
      msgs: $$(".msg", ladder).map(g => ({ g, t: msgs[g.dataset.index] || { sent: Infinity, end: Infinity } })),
      labels: [0, 1].map(s => $$('.state-change[data-side="' + sides[s] + '"]', ladder).map((g, i) => ({ g, n: changes[s][i] ?? Infinity }))),
      times: $$("text.time", ladder),
      paths: [0, 1].map(s => {
        const p = $$(".viz-path", diagram)[s];
        return p ? $$(".hl", p).map(g => ({ g, k: +g.dataset.step, n: trans[s][+g.dataset.step] ?? Infinity })) : [];
      }),
      diagram,
    };
    // The time cursor across the ladder and the ends' badges on the diagram.
    if (ladder) {
      const w = ladder.viewBox.baseVal.width;
      idx.cursor = el("line", { class: "web-cursor", x1: 60, x2: w - 10, y1: 0, y2: 0, visibility: "hidden" });
      ladder.insertBefore(idx.cursor, $(".msg", ladder) || null);
    }
    if (diagram) {
      idx.badges = [0, 1].map(s => {
        const label = v.names[s].length <= 8 ? v.names[s] : (s ? "right" : "left");
        const wid = Math.max(26, label.length * 7 + 10);
        const g = el("g", { class: "web-badge", "data-side": s });
        g.append(el("rect", { x: -wid / 2, y: -9, width: wid, height: 18, rx: 9, fill: v.colors[s], stroke: "#fff", "stroke-width": 1.5 }));
        const t = el("text", { y: 4 });
        t.textContent = label;
        g.append(t);
        g.dataset.w = wid;
        diagram.append(g);
        return g;
      });
    }
    st.index = idx;
  }

  function el(name, attrs) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function li(text) {
    const e = document.createElement("li");
    e.textContent = text;
    return e;
  }

  function fillConns() {
    const c = st.capture;
    ui.conn.replaceChildren(...c.conns.map(v => {
      const o = document.createElement("option");
      o.value = v.id;
      o.textContent = v.title;
      o.selected = v.id === st.view.id;
      return o;
    }));
    ui.conn.hidden = c.conns.length < 2;
  }

  // go shows step n (0: the states before the first step).
  function go(n) {
    const v = st.view, idx = st.index;
    if (!v) return;
    n = Math.max(0, Math.min(v.steps.length, n | 0));
    st.step = n;
    const step = n > 0 ? v.steps[n - 1] : null;
    const states = step ? step.states : v.initial;
    const nodes = step ? step.nodes : v.initial_nodes;

    idx.msgs.forEach(({ g, t }) => {
      g.classList.toggle("future", t.sent > n);
      g.classList.toggle("now", t.sent === n || t.end === n);
    });
    idx.labels.forEach(list => list.forEach(({ g, n: at }) => {
      g.classList.toggle("future", at > n);
      g.classList.toggle("now", at === n);
    }));
    if (idx.cursor) {
      const t = n > 0 ? idx.times[n - 1] : null;
      if (t) {
        const y = +t.getAttribute("y") - 3;
        idx.cursor.setAttribute("y1", y);
        idx.cursor.setAttribute("y2", y);
        idx.cursor.setAttribute("visibility", "visible");
        if (st.timer && idx.cursor.scrollIntoView) idx.cursor.scrollIntoView({ block: "nearest" });
      } else {
        idx.cursor.setAttribute("visibility", "hidden");
      }
    }
    // The diagram: each end's transitions so far, the last one taken
    // marked, the ones to come hidden; the current states lit.
    idx.paths.forEach(list => {
      let last = 0;
      list.forEach(({ k, n: at }) => { if (at <= n) last = Math.max(last, k); });
      list.forEach(({ g, k, n: at }) => {
        g.classList.toggle("future", at > n);
        g.classList.toggle("past", at <= n && k !== last);
        g.classList.toggle("taken", k === last && at <= n);
        g.classList.toggle("now", at === n);
      });
    });
    if (idx.diagram) {
      $$(".viz-state", idx.diagram).forEach(g => g.classList.remove("cur-0", "cur-1"));
      nodes.forEach((node, s) => {
        const box = idx.diagram.getElementById("viz-state-" + node);
        const badge = idx.badges[s];
        if (!box) { badge.setAttribute("visibility", "hidden"); return; }
        box.classList.add("cur-" + s);
        const r = $("rect", box);
        const x = +r.getAttribute("x"), y = +r.getAttribute("y"), w = +r.getAttribute("width");
        const bw = +badge.dataset.w;
        const bx = s === 0 ? x + bw / 2 - 4 : x + w - bw / 2 + 4;
        badge.setAttribute("transform", "translate(" + bx + "," + (y - 2) + ")");
        badge.setAttribute("visibility", "visible");
      });
    }

    // The panel.
    ui.slider.value = n;
    ui.counter.textContent = step ? "step " + n + " / " + v.steps.length + " at " + step.time + " s" : "start (" + v.steps.length + " steps)";
    const changed = [false, false];
    (step ? step.changes : []).forEach(c => { changed[c.side] = true; });
    const ends = step ? step.ends : v.initial_ends;
    for (let s = 0; s < 2; s++) {
      const e = $("#end-" + s);
      $(".state", e).textContent = states[s];
      $(".meaning", e).textContent = v.guide[states[s]] || "";
      const vars = $(".vars", e), ev = (ends && ends[s]) || { cwnd: null, text: "" };
      vars.textContent = ev.text;
      vars.dataset.cwnd = ev.cwnd ?? "";
      e.classList.toggle("changed", changed[s]);
      e.dataset.state = states[s];
    }
    const segs = step ? step.segments || [] : [];
    ui.segments.hidden = segs.length === 0;
    $("tbody", ui.segments).replaceChildren(...segs.map(g => {
      const tr = document.createElement("tr");
      const dir = v.names[g.from] + " → " + v.names[1 - g.from];
      // A capture cannot show cwnd ("?"); an end without a connection has none ("–").
      const unknown = v.cwnd_source === "capture" ? "?" : "–";
      [g.event, dir, g.flags, g.seq, g.ack, g.len, g.win, g.cwnd ?? unknown].forEach(x => {
        const td = document.createElement("td");
        td.textContent = x;
        tr.append(td);
      });
      const cw = tr.lastChild;
      cw.className = "cwnd";
      if (g.cwnd == null) cw.title = v.cwnd_source === "capture" ? "unknown: packets do not carry cwnd" : "the sender has no connection";
      if (g.rule) tr.title = g.rule;
      return tr;
    }));
    ui.events.replaceChildren(...(step ? step.events : ["Press ▶ or → to step through the connection."]).map(li));
    const h = hashFor(n);
    ui.permalink.href = h;
    if (location.hash !== h) history.replaceState(null, "", h);
    document.body.dataset.step = n;
  }

  function stop() {
    if (st.timer) clearInterval(st.timer);
    st.timer = null;
    ui.play.textContent = "▶ play";
    document.body.classList.remove("playing");
  }

  function play() {
    if (st.timer) { stop(); return; }
    if (st.step >= st.view.steps.length) go(0);
    document.body.classList.add("playing");
    ui.play.textContent = "⏸ pause";
    st.timer = setInterval(() => {
      if (st.step >= st.view.steps.length) { stop(); return; }
      go(st.step + 1);
    }, 700);
  }

  async function upload(file) {
    stop();
    showError("");
    const fd = new FormData();
    fd.append("file", file, file.name);
    const url = /\.pkt$/i.test(file.name) ? "/api/pkt" : "/api/captures";
    try {
      const c = await getJSON(url, { method: "POST", body: fd });
      if (!c.conns.length) throw new Error(file.name + ": no TCP connection in the capture");
      st.capture = c;
      location.hash = c.conns[0].id + "&step=0";
    } catch (e) {
      showError(e.message);
    }
  }

  $("#first").addEventListener("click", () => { stop(); go(0); });
  $("#prev").addEventListener("click", () => { stop(); go(st.step - 1); });
  $("#next").addEventListener("click", () => { stop(); go(st.step + 1); });
  $("#last").addEventListener("click", () => { stop(); go(st.view.steps.length); });
  ui.play.addEventListener("click", play);
  ui.slider.addEventListener("input", () => { stop(); go(+ui.slider.value); });
  ui.scenario.addEventListener("change", () => { location.hash = "scenario=" + ui.scenario.value + "&step=0"; });
  ui.conn.addEventListener("change", () => { location.hash = ui.conn.value + "&step=0"; });
  ui.file.addEventListener("change", () => { if (ui.file.files.length) upload(ui.file.files[0]); });
  $("#upload").addEventListener("submit", ev => { ev.preventDefault(); if (ui.file.files.length) upload(ui.file.files[0]); });
  $("#pick").addEventListener("submit", ev => { ev.preventDefault(); location.hash = "scenario=" + ui.scenario.value + "&step=0"; });
  document.addEventListener("keydown", ev => {
    if (!st.view || ev.target.closest("input, select, textarea")) return;
    const keys = { ArrowRight: () => go(st.step + 1), ArrowLeft: () => go(st.step - 1), Home: () => go(0), End: () => go(st.view.steps.length) };
    if (keys[ev.key]) { stop(); keys[ev.key](); ev.preventDefault(); }
    else if (ev.key === " ") { play(); ev.preventDefault(); }
  });
  window.addEventListener("hashchange", load);
  load().then(() => { document.body.dataset.ready = "1"; });
})();
