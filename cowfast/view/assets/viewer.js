// cowfast view: draws one recorded step of a run. The data (record.py's shape) is the
// JSON in #view-data: runs -> steps; a step lists indexes into the run's distinct
// process rows and open file description rows; a row's regions index the run's regions. Nothing is fetched.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("view-data").textContent);
  const KINDS = DATA.kinds;                      // ["untouched", "zero", "private", "shared"]
  const LETTER = {untouched: "·", zero: "0", private: "P", shared: "S"};
  const LABEL = {untouched: "untouched (never accessed)", zero: "zero page (read, never written)",
                 private: "private (this process only)", shared: "shared (copy-on-write)"};
  const MAX_CELLS = 256;                         // more pages than this: bands
  const PAGE = DATA.page_size;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const hex = (n) => "0x" + n.toString(16);

  let run = null, runIndex = 0, step = 0, chosenPid = null, firstParent = null;

  // --- one run ---

  // The address keeps the place (#run=0&step=5&pid=3), so a step can be linked to.
  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const num = (k) => (h.has(k) && /^\d+$/.test(h.get(k)) ? Number(h.get(k)) : null);
    return {run: num("run"), step: num("step"), pid: num("pid")};
  }

  function writeHash(pid) {
    const h = `#run=${runIndex}&step=${step}` + (chosenPid !== null ? `&pid=${pid}` : "");
    if (location.hash !== h) history.replaceState(null, "", h);
  }

  function selectRun(i) {
    runIndex = i;
    run = DATA.runs[i];
    firstParent = new Map();                     // pid -> the parent it was born to
    for (const s of run.steps)
      for (const r of s.procs) {
        const row = run.rows[r];
        if (!firstParent.has(row.pid)) firstParent.set(row.pid, row.ppid);
      }
    $("step").max = run.steps.length - 1;
    $("ending").textContent = run.ending ? run.ending : "";
    chosenPid = null;
    show(0);
  }

  function show(i) {
    step = Math.max(0, Math.min(run.steps.length - 1, i));
    const s = run.steps[step];
    $("step").value = step;
    $("counter").textContent = `step ${step} of ${run.steps.length - 1}`;
    const procs = s.procs.map((r) => run.rows[r]);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    let pid = chosenPid !== null && byPid.has(chosenPid) ? chosenPid : s.pid;
    if (pid === null || !byPid.has(pid)) pid = defaultPid(procs);
    drawCall(s);
    drawTree(procs, s.pid, pid);
    const files = new Map(s.files.map((f) => [run.files[f].id, run.files[f]]));
    drawMemory(byPid.get(pid));
    drawFiles(byPid.get(pid), procs, files);
    drawConsole(s.console, step > 0 ? run.steps[step - 1].console : 0);
    $("prev").disabled = step === 0;
    $("first").disabled = step === 0;
    $("next").disabled = step === run.steps.length - 1;
    $("last").disabled = step === run.steps.length - 1;
    $("run-end").textContent = step === run.steps.length - 1 && run.ending ? run.ending : "";
    writeHash(pid);
  }

  function defaultPid(procs) {
    const user = procs.filter((p) => p.pid !== 1);
    return (user.length ? user[0] : procs[0]).pid;
  }

  // --- the call ---

  function drawCall(s) {
    $("who").textContent = s.pid === null ? "" : `pid ${s.pid}:`;
    $("call").textContent = s.call || (s.kind === "start" ? "(start)" : "(no call)");
    $("arrow").hidden = !s.result;
    const r = $("result");
    r.textContent = s.result;
    r.className = s.kind;
    r.dataset.kind = s.kind;
    $("events").innerHTML = (s.events || []).map((e) => `<li>${esc(e)}</li>`).join("");
  }

  // --- the process tree ---

  function drawTree(procs, actor, selected) {
    const kids = new Map();
    for (const p of procs) {
      if (!kids.has(p.ppid)) kids.set(p.ppid, []);
      kids.get(p.ppid).push(p);
    }
    const pids = new Set(procs.map((p) => p.pid));
    const roots = procs.filter((p) => !pids.has(p.ppid));
    const out = [];
    const walk = (p) => {
      const born = firstParent.get(p.pid);
      let badges = "";
      if (born !== undefined && born !== p.ppid)
        badges += `<span class="badge adopted" data-adopted="${born}">re-parented to ${p.ppid}` +
                  ` (parent ${born} exited)</span>`;
      if (p.state === "zombie")
        badges += `<span class="badge zombie">zombie: ${esc(p.status)}, not yet reaped</span>`;
      const sel = p.pid === selected;
      out.push(`<li role="treeitem" aria-expanded="true"><button type="button" class="proc` +
        `${p.pid === actor ? " acting" : ""}" data-pid="${p.pid}" data-ppid="${p.ppid}"` +
        ` data-state="${p.state}" aria-selected="${sel}" tabindex="${sel ? 0 : -1}">` +
        `<b>${p.pid}</b> <span class="cmd">${esc(p.argv.join(" "))}</span> ` +
        `<span class="state">${p.state}</span>${badges}</button>`);
      const children = kids.get(p.pid) || [];
      if (children.length) {
        out.push('<ul role="group">');
        children.forEach(walk);
        out.push("</ul>");
      }
      out.push("</li>");
    };
    roots.forEach(walk);
    $("tree").innerHTML = out.join("");
  }

  // --- memory ---

  function drawMemory(p) {
    const title = $("memory-title");
    if (!p) { title.textContent = "Memory"; $("memory").innerHTML = ""; return; }
    const kib = (n) => `${Math.round(n / 1024)} KiB`;
    title.textContent = `Memory of pid ${p.pid}` + (p.regions ?
      ` (rss ${kib(p.rss)}, pss ${kib(p.pss)}, uss ${kib(p.uss)})` : "");
    if (!p.regions) {
      $("memory").innerHTML = `<p class="pagesnote">pid ${p.pid} is a ${esc(p.state)}: ` +
        "its memory is gone; only its exit status waits for its parent.</p>";
      return;
    }
    const out = [];
    for (const r of p.regions.map((i) => run.regions[i])) {
      const pages = (r.end - r.start) / PAGE;
      out.push(`<div class="region" data-region="${esc(r.name)}" data-pages="${pages}">` +
        `<div class="head"><b>${esc(r.name)}</b> ${hex(r.start)}–${hex(r.end)} ${r.prot}` +
        `${r.shared ? " MAP_SHARED" : " MAP_PRIVATE"} · ${pages} page${pages === 1 ? "" : "s"}` +
        `${r.runs ? " · " + summary(r.runs) : ""}</div>`);
      if (r.runs) out.push(pagesHtml(r, pages));
      else out.push('<p class="pagesnote">(page states not recorded)</p>');
      out.push("</div>");
    }
    $("memory").innerHTML = out.join("");
  }

  function summary(runs) {
    const n = [0, 0, 0, 0];
    for (const [k, c] of runs) n[k] += c;
    return KINDS.map((k, i) => n[i] ? `${n[i]} ${k}` : "").filter(Boolean).join(", ");
  }

  function pageTitle(addr, kind, mappers, others) {
    const n = mappers - 1;
    const who = kind !== "shared" ? "" : others.length ? `, shared with pid ${others.join(", ")}`
      : `, shared with ${n} other process${n === 1 ? "" : "es"}`;
    return `page ${hex(addr)}: ${kind}${who}`;
  }

  function pagesHtml(r, pages) {
    const out = ['<div class="pages">'];
    if (pages <= MAX_CELLS) {
      let i = 0;
      for (const [k, count, mappers, others] of r.runs) {
        const kind = KINDS[k];
        const text = kind === "shared" ? String(mappers) : LETTER[kind];
        for (let j = 0; j < count; j++, i++)
          out.push(`<span class="pg k-${kind}" data-state="${kind}" data-page="${i}"` +
                   ` data-mappers="${mappers}" title="${pageTitle(r.start + i * PAGE, kind, mappers, others)}">` +
                   `${text}</span>`);
      }
    } else {
      out.push(...bands(r, pages));
    }
    out.push("</div>");
    return out.join("");
  }

  // Many pages: MAX_CELLS bands, each a stack of its kinds' shares, named by the largest.
  function bands(r, pages) {
    const per = Math.ceil(pages / MAX_CELLS), out = [];
    let runI = 0, left = r.runs.length ? r.runs[0][1] : 0;
    for (let b = 0; b * per < pages; b++) {
      const size = Math.min(per, pages - b * per), n = [0, 0, 0, 0];
      let need = size;
      while (need > 0 && runI < r.runs.length) {
        const take = Math.min(need, left);
        n[r.runs[runI][0]] += take;
        need -= take; left -= take;
        if (left === 0 && ++runI < r.runs.length) left = r.runs[runI][1];
      }
      let top = 0;
      for (let k = 1; k < 4; k++) if (n[k] > n[top]) top = k;
      const parts = n.map((c, k) => c ? `<span class="k-${KINDS[k]}" style="flex:${c}"></span>` : "");
      const desc = n.map((c, k) => c ? `${c} ${KINDS[k]}` : "").filter(Boolean).join(", ");
      const lo = r.start + b * per * PAGE;
      out.push(`<span class="band" data-state="${KINDS[top]}" data-band="${b}" title="` +
               `${hex(lo)}–${hex(lo + size * PAGE)}: ${desc}">${parts.join("")}</span>`);
    }
    out.push(`<span class="pagesnote">each band is ${per} pages</span>`);
    return out;
  }

  // --- descriptors and open file descriptions ---

  function drawFiles(p, procs, files) {
    $("fds-title").textContent = p ? `Descriptors of pid ${p.pid}` : "Descriptors";
    const rows = (p && p.fds) ? p.fds.map(([fd, id, cloexec]) =>
      `<tr data-fd="${fd}" data-file="${id}"><td>${fd}</td><td><a href="#ofd-${id}"` +
      ` data-file="${id}">description #${id}</a> ${esc(files.get(id).what)}</td>` +
      `<td>${cloexec ? "yes" : "no"}</td></tr>`) : [];
    $("fds").tBodies[0].innerHTML = rows.join("") ||
      '<tr><td colspan="3">no open descriptors</td></tr>';
    const holders = new Map();
    for (const q of procs)
      for (const [fd, id] of (q.fds || [])) {
        if (!holders.has(id)) holders.set(id, []);
        holders.get(id).push(`${q.pid}:${fd}`);
      }
    const mine = new Set((p && p.fds || []).map((x) => x[1]));
    const out = [];
    for (const [id, f] of files) {
      const pipe = f.pipe ? ` · ${f.pipe.buffered} bytes buffered, ${f.pipe.readers} read ` +
        `/ ${f.pipe.writers} write descriptions` : "";
      const offset = f.offset === null ? "no offset (a terminal)" : `offset ${f.offset}`;
      out.push(`<div class="file${mine.has(id) ? " mine" : ""}" id="ofd-${id}" data-file-id="${id}"` +
        ` data-offset="${f.offset === null ? "" : f.offset}" data-refs="${f.refs}">` +
        `<span class="ofd">#${id}</span> ${esc(f.what)} · <span class="offset">${offset}</span>` +
        ` · ${esc(f.flags)} · ${f.refs} descriptor${f.refs === 1 ? "" : "s"}${pipe}<br>` +
        `<span class="holders">held by pid:fd ${(holders.get(id) || []).join(", ")}</span></div>`);
    }
    $("files").innerHTML = out.join("");
  }

  function hot(id, on) {
    document.querySelectorAll(`[data-file="${id}"], #ofd-${id}`).forEach((el) => {
      (el.tagName === "A" ? el.closest("tr") : el).classList.toggle("hot", on);
    });
  }

  // --- console ---

  function drawConsole(upto, before) {
    const out = [];
    for (let i = 0; i < upto; i++) {
      const [pid, text] = run.console[i];
      out.push(`<span data-pid="${pid}" title="written by pid ${pid}"${i >= before ? ' class="new"' : ""}>` +
               `${esc(text)}</span>`);
    }
    $("console").innerHTML = out.join("");
  }

  // --- legend, picker, events ---

  function drawLegend() {
    $("legend").innerHTML = KINDS.map((k) =>
      `<li data-kind="${k}"><span class="pg sw k-${k}">${k === "shared" ? "2" : LETTER[k]}</span>` +
      `${LABEL[k]}</li>`).join("") +
      '<li>shared pages show how many processes map them</li>';
  }

  function drawPicker() {
    const box = $("outcome-box"), sel = $("outcome");
    box.hidden = DATA.runs.length < 2;
    sel.innerHTML = DATA.runs.map((r, i) => `<option value="${i}">${esc(r.label)}</option>`).join("");
  }

  function wire() {
    $("step").addEventListener("input", (e) => show(Number(e.target.value)));
    $("prev").addEventListener("click", () => show(step - 1));
    $("next").addEventListener("click", () => show(step + 1));
    $("first").addEventListener("click", () => show(0));
    $("last").addEventListener("click", () => show(run.steps.length - 1));
    $("outcome").addEventListener("change", (e) => selectRun(Number(e.target.value)));
    $("tree").addEventListener("click", (e) => {
      const b = e.target.closest(".proc");
      if (!b) return;
      chosenPid = Number(b.dataset.pid);
      show(step);
      const again = document.querySelector(`.proc[data-pid="${chosenPid}"]`);
      if (again) again.focus();
    });
    $("tree").addEventListener("keydown", (e) => {     // up/down move between processes
      if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
      const all = [...document.querySelectorAll(".proc")];
      const at = all.indexOf(document.activeElement);
      const to = all[at + (e.key === "ArrowDown" ? 1 : -1)];
      if (to) { e.preventDefault(); e.stopPropagation(); to.click(); }
    });
    for (const id of ["fds", "files"]) {
      $(id).addEventListener("mouseover", (e) => {
        const el = e.target.closest("[data-file],[data-file-id]");
        if (el) hot(el.dataset.file || el.dataset.fileId, true);
      });
      $(id).addEventListener("mouseout", (e) => {
        const el = e.target.closest("[data-file],[data-file-id]");
        if (el) hot(el.dataset.file || el.dataset.fileId, false);
      });
    }
    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (t.tagName === "SELECT" || t.tagName === "INPUT" || e.altKey || e.ctrlKey || e.metaKey) return;
      const moves = {ArrowRight: step + 1, ArrowLeft: step - 1, Home: 0,
                     End: run.steps.length - 1};
      if (e.key in moves) { e.preventDefault(); show(moves[e.key]); }
    });
  }

  $("title").textContent = DATA.title;
  $("summary").textContent = DATA.summary || "";
  drawLegend();
  drawPicker();
  wire();
  const start = readHash();
  const first = start.run !== null && start.run < DATA.runs.length ? start.run : 0;
  $("outcome").value = String(first);
  selectRun(first);
  if (start.pid !== null) chosenPid = start.pid;
  if (start.step !== null || start.pid !== null) show(start.step || 0);
})();
