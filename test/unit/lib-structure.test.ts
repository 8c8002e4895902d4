/**
 * The shape the next engineer can rely on (README, Layout): lib/'s folders form
 * layers, each importing only the ones below it, and no function in lib/ runs
 * past 60 lines. Read from the sources with the TypeScript parser.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../lib/common/paths';

const LIB = join(REPO_ROOT, 'lib');
const MAX_FUNCTION_LINES = 60;

/** The layers, bottom up: a folder may import only folders of a lower rank. */
const RANK: Record<string, number> = {
  core: 0,
  gen: 0,
  common: 1,
  cluster: 2,
  storage: 2,
  client: 2,
  machine: 3,
  server: 4,
  replication: 4,
  supervision: 5,
  admin: 6,
  chaos: 7,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'gen' ? [] : sources(path);
    return d.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(LIB).map((path) => ({ path, folder: relative(LIB, path).split('/')[0], src: ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true) }));

t.test('every folder of lib/ has a place in the layers', async (t) => {
  t.same([...new Set(files.map((f) => f.folder))].filter((f) => RANK[f] === undefined), []);
});

t.test("lib/'s folders import only the layers below them", async (t) => {
  const wrong: string[] = [];
  for (const f of files) {
    for (const s of f.src.statements) {
      if (!ts.isImportDeclaration(s) && !ts.isExportDeclaration(s)) continue;
      const spec = s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) ? s.moduleSpecifier.text : null;
      const to = spec?.match(/^\.\.\/([a-z-]+)\//)?.[1];
      if (to !== undefined && !(RANK[to] < RANK[f.folder])) wrong.push(`${relative(REPO_ROOT, f.path)} imports ${spec}`);
    }
  }
  t.same(wrong, []);
});

t.test(`no function in lib/ is longer than ${MAX_FUNCTION_LINES} lines`, async (t) => {
  const long: string[] = [];
  for (const { path, src } of files) {
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const lines = src.getLineAndCharacterOfPosition(n.getEnd()).line - src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        if (lines > MAX_FUNCTION_LINES) long.push(`${relative(REPO_ROOT, path)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1} (${lines} lines)`);
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  t.same(long, []);
});
