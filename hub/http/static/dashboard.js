// The session cookie carries the sign-in; changes echo the CSRF token that /auth/me hands out.
let csrf = "";
async function whoAmI() {
  const r = await fetch("/auth/me", { credentials: "same-origin" });
  if (r.status === 401) { window.location.assign("/auth/login"); return; }
  const me = await r.json();
  csrf = me.csrf_token || "";
  document.getElementById("who").textContent = me.name || me.subject;
}
function row(tbody, cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? "" : String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}
function fill(id, rows, toCells, cls) {
  const tbody = document.querySelector("#" + id + " tbody");
  tbody.replaceChildren();
  for (const r of rows) row(tbody, toCells(r), cls ? cls(r) : "");
}
async function redrive(id) {
  const r = await fetch("/ops/dead-letters/redrive", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ ids: [id], reason: "redriven from the dashboard" }) });
  document.getElementById("status").textContent = r.ok ? "redriven " + id : "redrive refused (" + r.status + ")";
  await load();
}
async function exportSubject(format) {
  const status = document.getElementById("sar-status");
  const ask = { identifier_type: document.getElementById("sar-type").value, identifier: document.getElementById("sar-id").value,
                la_code: document.getElementById("sar-la").value || null, format,
                third_parties: document.getElementById("sar-third").checked ? "shown" : "redacted" };
  const r = await fetch("/ops/subject-access", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(ask) });
  if (!r.ok) { const e = await r.json().catch(() => ({})); status.textContent = "refused (" + r.status + "): " + (e.detail || ""); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await r.blob());
  link.download = "subject-access-" + ask.identifier_type + "." + format;
  link.click();
  URL.revokeObjectURL(link.href);
  status.textContent = "exported; audit " + r.headers.get("X-Audit-Id");
}
document.getElementById("sar-form").onsubmit = (e) => { e.preventDefault(); exportSubject("html"); };
document.getElementById("sar-json").onclick = () => exportSubject("json");
async function load() {
  const r = await fetch("/ops/dashboard", { credentials: "same-origin" });
  if (r.status === 401) { window.location.assign("/auth/login"); return; }
  if (!r.ok) { document.getElementById("status").textContent = "not permitted (" + r.status + ")"; return; }
  const d = await r.json();
  document.getElementById("role").textContent = "role: " + d.role;
  document.getElementById("sar").hidden = !d.may_export_subject_access;
  document.getElementById("sar-third-label").hidden = !d.may_show_third_parties;
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const [label, key] of [["events processed", "processed_events"], ["deliveries", "deliveries"], ["cases", "cases"],
                              ["dead letters", "dead_letters"], ["alerts", "alerts"], ["referrals", "referrals"]]) {
    const div = document.createElement("div"); div.className = "count";
    const b = document.createElement("b"); b.textContent = d.counts[key] ?? 0; div.appendChild(b);
    div.appendChild(document.createTextNode(label)); counts.appendChild(div);
  }
  fill("dead", d.dead_letters, x => {
    let action = "";
    if (d.may_redrive) { action = document.createElement("button"); action.textContent = "Redrive"; action.onclick = () => redrive(x.dlq_id); }
    return [x.dlq_id, x.stage, x.case_id, x.exception_message, action];
  });
  fill("recipients", d.recipients, x => [x.recipient, x.channel, x.pending, x.oldest_pending || "", x.delivered, x.dead,
    x.unreachable_alert ? "unreachable since " + x.failing_since : (x.failing_since ? "retrying: " + x.last_error : "ok")],
    x => x.unreachable_alert ? "breach" : (x.failing_since ? "warning" : ""));
  fill("alerts", d.alerts.slice().reverse(), x => [x.severity, x.case_id, x.message, x.due_date], x => x.severity);
  fill("clocks", d.clocks, x => [x.state, x.case_id, x.kind, [x.agency, x.organisation].filter(Boolean).join(":"), x.due],
    x => ({ overdue: "breach", late: "breach", "due-soon": "warning" })[x.state] || "");
  fill("cases", d.cases, x => {
    const p = x.person || {};
    return [x.case_id, p.pseudonym || [p.given_name, p.family_name].filter(Boolean).join(" "), p.nhs_number, p.date_of_birth, x.received_date];
  });
  fill("events", d.recent_events, x => [x.occurred_at, x.event_type.split(".")[2], x.case_id, x.source]);
  fill("transitions", Object.entries(d.transitions), ([la, m]) => [la, m.referrals, m.reused, m.redone, m.median_days_to_adult_decision]);
}
document.getElementById("signout").onclick = async () => {
  const r = await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  const out = r.ok ? await r.json() : {};
  window.location.assign(out.end_session || "/auth/login");
};
whoAmI().then(load);
setInterval(load, 5000);
