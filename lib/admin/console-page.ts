/**
 * The console's one page: plain HTML, CSS and a few lines of script (no framework).
 * It renders each snapshot the server pushes on /events: every machine's processes,
 * the master and its term, the replication links into each machine, a strip of
 * events, and posts/s and replication lag as sparklines. A process that went down stays on the page, struck through, for 10 s.
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftchat console</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:18px;margin:0 0 4px} #meta{color:#666;margin-bottom:12px}
#machines{display:flex;flex-wrap:wrap;gap:12px}
.machine{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:420px}
.machine h2{font-size:16px;margin:0 0 6px} .machine.unreachable h2{color:#b00}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:2px 8px 2px 0;font-variant-numeric:tabular-nums}
th{color:#666;font-weight:normal;border-bottom:1px solid #eee}
tr.up td.state{color:#080} tr.down td{color:#b00} tr.gone td{text-decoration:line-through}
tr.starting td.state,tr.suspect td.state{color:#b60}
.sparks{display:flex;gap:16px;margin:6px 0;color:#444} svg{background:#f4f4f4}
#events{margin-top:12px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;max-height:220px;overflow:auto}
#events div{font-family:ui-monospace,monospace;font-size:13px}
.links{margin:4px 0} .links span{margin-right:12px}
.ev-down,.ev-machine-down,.ev-link-down,.link-down{color:#b00} .ev-revived,.ev-machine-up,.ev-link-up,.link-up{color:#080} .ev-election{color:#05a}
.stale{color:#b00}
</style></head><body>
<h1>ftchat console</h1><div id="meta">connecting...</div>
<div id="machines"></div>
<div id="events"><b>events</b><div id="strip"></div></div>
<script>
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const history = {};
let last = 0;
function spark(values, label, unit) {
  const w = 160, h = 30, max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * w / 59).toFixed(1) + ',' + (h - (v / max) * (h - 2) - 1).toFixed(1)).join(' ');
  const now = values.length ? values[values.length - 1] : 0;
  return '<span>' + label + ' <svg width="' + w + '" height="' + h + '"><polyline fill="none" stroke="#05a" stroke-width="1.5" points="' + pts + '"/></svg> ' + (Math.round(now * 10) / 10) + unit + '</span>';
}
function age(ms) { if (ms < 0) return '-'; const s = Math.floor(ms / 1000); return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's' : Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm'; }
function row(p, gone) {
  const state = gone ? 'down' : p.state;
  return '<tr class="' + esc(state) + (gone ? ' gone' : '') + '" data-key="' + esc(p.machine + ' ' + p.role + (p.slot === null ? '' : ' ' + p.slot)) + '" data-pid="' + p.pid + '" data-state="' + esc(state) + '"><td>' + esc(p.role) + '</td><td>' + (p.slot === null ? '-' : p.slot) + '</td><td class="pid">' + (p.pid || '-') + '</td><td class="state">' + esc(state) + '</td><td>' + (gone ? '-' : p.heartbeatAgeMs < 0 ? '-' : p.heartbeatAgeMs + 'ms') + '</td><td>' + (gone ? '' : p.restarts) + '</td><td>' + (gone ? '' : age(p.uptimeMs)) + '</td></tr>';
}
function links(m, v) {
  if (!v.links) return '';
  return '<div class="links">' + Object.entries(v.links).map(([p, up]) => '<span class="link-' + (up ? 'up' : 'down') + '" data-link="' + esc(p + ' ' + m) + '">link ' + esc(p) + ' &rarr; ' + esc(m) + (up ? ' up' : ' down') + '</span>').join('') + '</div>';
}
function render(s) {
  last = Date.now();
  document.getElementById('meta').innerHTML = (s.master ? 'master <b>' + esc(s.master.machine) + '</b> pid ' + s.master.pid + ', term <b id="term">' + s.master.term + '</b>' : '<span class="stale">master DOWN</span>') + ' &middot; updated ' + new Date(s.at).toLocaleTimeString();
  const gone = s.events.filter((e) => e.kind === 'down' && s.at - e.at < 10000);
  let html = '';
  for (const [m, v] of Object.entries(s.machines)) {
    const h = (history[m] ??= { posts: [], lag: [] });
    h.posts = [...h.posts, v.postsPerSec ?? 0].slice(-60);
    h.lag = [...h.lag, v.lagEvents ?? 0].slice(-60);
    const procs = s.processes.filter((p) => p.machine === m);
    const shown = new Set(procs.map((p) => p.pid));
    const ghosts = gone.map((e) => e.process).filter((p) => p.machine === m && !shown.has(p.pid));
    html += '<div class="machine' + (v.reachable ? '' : ' unreachable') + '" data-machine="' + esc(m) + '"><h2>' + esc(m) + (v.reachable ? ' &middot; term ' + v.term : ' &middot; does not answer') + '</h2>'
      + '<div class="sparks">' + spark(h.posts, 'posts/s', '') + spark(h.lag, 'lag', ' events') + '</div>' + links(m, v)
      + '<table><tr><th>role</th><th>slot</th><th>pid</th><th>state</th><th>heartbeat</th><th>restarts</th><th>uptime</th></tr>'
      + procs.map((p) => row(p, false)).join('') + ghosts.map((p) => row(p, true)).join('') + '</table></div>';
  }
  document.getElementById('machines').innerHTML = html;
  document.getElementById('strip').innerHTML = s.events.slice().reverse().map((e) => '<div class="ev-' + esc(e.kind) + '">' + new Date(e.at).toLocaleTimeString() + ' ' + esc(e.text) + '</div>').join('');
}
const source = new EventSource('/events');
source.onmessage = (m) => render(JSON.parse(m.data));
setInterval(() => { if (last && Date.now() - last > 5000) document.getElementById('meta').classList.add('stale'); else document.getElementById('meta').classList.remove('stale'); }, 1000);
</script></body></html>
`;
