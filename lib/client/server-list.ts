/** The `-s host:port,host:port,...` list: servers in order of preference. Pure. */
export class ServerListError extends Error {}

export function parseServerList(text: string): string[] {
  const servers = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new ServerListError('-s needs at least one host:port');
  for (const s of servers) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw new ServerListError(`bad server address '${s}': expected host:port`);
  }
  return [...new Set(servers)];
}
