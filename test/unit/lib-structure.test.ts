/**
 * The shape the next engineer can rely on (README, Layout): lib/'s folders form
 * layers, each importing only the ones below it, by any form of import; no function
 * runs past 60 lines, no file past 400, no class past 300 lines or 30 members. Each
 * rule is shown failing on a source that breaks it, so none passes by not looking.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { importsOf, layerViolations, sizeViolations, type Limits, type Source } from '../helpers/source-structure';

const LIB = join(REPO_ROOT, 'lib');
const LIMITS: Limits = { functionLines: 60, fileLines: 400, classLines: 300, classMembers: 30 };
/** Files whose size is let through until the issue that splits them lands. */
const SIZE_EXCEPTIONS: Record<string, string> = {
  'core/event-index.ts': 'the index of every event kind; to split by kind',
};

/** The layers, bottom up: a folder may import only folders of a lower rank. */
const RANK: Record<string, number> = {
  core: 0,
  gen: 0,
  common: 1,
  control: 2,
  storage: 2,
  client: 2,
  machine: 3,
  server: 4,
  replication: 4,
  supervision: 5,
  admin: 6,
  chaos: 7,
};

function sources(dir: string): Source[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'gen' ? [] : sources(path);
    return d.name.endsWith('.ts') ? [{ path: relative(LIB, path), text: readFileSync(path, 'utf8') }] : [];
  });
}

const lib = sources(LIB);
const body = (lines: number): string => Array.from({ length: lines }, (_, i) => `  const x${i} = ${i};`).join('\n');

t.test('every folder of lib/ has a place in the layers', async (t) => {
  t.same([...new Set(lib.map((s) => s.path.split('/')[0]))].filter((f) => RANK[f] === undefined), []);
});

t.test("lib/'s folders import only the layers below them", async (t) => {
  t.same(layerViolations(lib, RANK), []);
});

t.test('every form of import counts, and a folder named without a file is still that folder', async (t) => {
  const upward = [
    "import { x } from '../server/primary';",
    "export { x } from '../server/primary';",
    "import x = require('../server/primary');",
    "const x = require('../server/primary');",
    "const x = import('../server/primary');",
    "import { x } from '../server';",
    "import { x } from '../../test/helpers/server';",
  ];
  for (const text of upward) {
    t.equal(importsOf({ path: 'core/a.ts', text }).length, 1, `${text} is read`);
    t.equal(layerViolations([{ path: 'core/a.ts', text }], RANK).length, 1, `${text} from core/ is refused`);
  }
  t.same(layerViolations([{ path: 'server/a.ts', text: "import { x } from '../core/hlc';\nimport { y } from './b';\nimport ts from 'typescript';" }], RANK), [], 'downward, within the folder and packages are fine');
});

t.test(`no function over ${LIMITS.functionLines} lines, file over ${LIMITS.fileLines} or class over ${LIMITS.classLines} lines or ${LIMITS.classMembers} members`, async (t) => {
  t.same(sizeViolations(lib, LIMITS, SIZE_EXCEPTIONS), []);
  t.same(Object.keys(SIZE_EXCEPTIONS).filter((path) => !lib.some((s) => s.path === path)), [], 'every exception names a file that exists');
});

t.test('each size rule fails when broken', async (t) => {
  const longFunction = `export function f(): void {\n${body(LIMITS.functionLines)}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longFunction }], LIMITS), [/a function of 62 lines/]);
  const longFile = `${body(LIMITS.fileLines).replace(/^ {2}/gm, '')}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longFile }], LIMITS), [/core\/a.ts: 401 lines/]);
  const manyMembers = `class C {\n${Array.from({ length: LIMITS.classMembers + 1 }, (_, i) => `  m${i} = ${i};`).join('\n')}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: manyMembers }], LIMITS), [/class C of 33 lines and 31 members/]);
  const longClass = `class C {\n  m(): void {\n    if (1) {\n${body(50)}\n    }\n  }\n${Array.from({ length: 5 }, (_, i) => `  n${i}(): void {\n${body(50)}\n  }`).join('\n')}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longClass }], LIMITS), [/class C of \d+ lines and 6 members/]);
  t.same(sizeViolations([{ path: 'core/a.ts', text: manyMembers }], LIMITS, { 'core/a.ts': 'being split' }), [], 'an excepted file is let through');
});
