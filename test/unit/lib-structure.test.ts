/**
 * The shape the next engineer can rely on (README, Layout): lib/'s folders form
 * layers, each importing only the ones below it, by any form of import; no function
 * runs past 60 lines, no file past 400, no class past 200 lines or 15 members (those
 * declared in its body). Each rule is shown failing on a source that breaks it, so
 * none passes by not looking.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { classesOverLimits, importsOf, layerViolations, sizeViolations, type Limits, type Source } from '../helpers/source-structure';

const LIB = join(REPO_ROOT, 'lib');
const LIMITS: Limits = { functionLines: 60, fileLines: 400, classLines: 200, classMembers: 15 };
/**
 * Classes ('folder/file.ts#Class') let through until the work that splits them
 * lands, each with its reason; one no longer over the limits must leave the list.
 */
const SIZE_EXCEPTIONS: Record<string, string> = {};

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
  const over = classesOverLimits(lib, LIMITS);
  t.same(Object.keys(SIZE_EXCEPTIONS).filter((name) => !over.includes(name)), [], 'every exception names a class still over the limits');
});

t.test('each size rule fails when broken', async (t) => {
  const longFunction = `export function f(): void {\n${body(LIMITS.functionLines)}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longFunction }], LIMITS), [/a function of 62 lines/]);
  const longFile = `${body(LIMITS.fileLines).replace(/^ {2}/gm, '')}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longFile }], LIMITS), [/core\/a.ts: 401 lines/]);
  const members = (n: number): string => Array.from({ length: n }, (_, i) => `  m${i} = ${i};`).join('\n');
  const manyMembers = `class C {\n${members(LIMITS.classMembers + 1)}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: manyMembers }], LIMITS), [/class C of 18 lines and 16 members/]);
  t.same(sizeViolations([{ path: 'core/a.ts', text: `class C {\n${members(LIMITS.classMembers)}\n}\n` }], LIMITS), [], `${LIMITS.classMembers} members are fine`);
  const method = (i: number): string => `  n${i}(): void {\n${body(40)}\n  }`;
  const longClass = `class C {\n${Array.from({ length: 5 }, (_, i) => method(i)).join('\n')}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: longClass }], LIMITS), [/class C of 212 lines and 5 members/]);
  const twoClasses = `${manyMembers}class D {\n${members(LIMITS.classMembers + 1)}\n}\n`;
  t.match(sizeViolations([{ path: 'core/a.ts', text: twoClasses }], LIMITS, { 'core/a.ts#C': 'being split' }), [/class D of/], 'a class excepted lets no other class of its file through');
  t.same(sizeViolations([{ path: 'core/a.ts', text: twoClasses }], LIMITS, { 'core/a.ts': 'being split' }), [], 'an excepted file is let through');
  t.same(classesOverLimits([{ path: 'core/a.ts', text: twoClasses }, { path: 'core/b.ts', text: 'class E {}\n' }], LIMITS), ['core/a.ts#C', 'core/a.ts#D'], 'what an exception must name');
});
