/**
 * The structure rules of lib/ (README, Layout), as functions of source texts, so a
 * test can show each rule both holding on lib/ and failing on a source that breaks it.
 * Sources are read with the TypeScript parser: every form of import counts.
 */
import { dirname, posix } from 'node:path';
import ts from 'typescript';

/** A source file of lib/: its path relative to lib/ ('server/primary.ts') and its text. */
export interface Source {
  path: string;
  text: string;
}

export interface Limits {
  functionLines: number;
  fileLines: number;
  classLines: number;
  classMembers: number;
}

function parse(s: Source): ts.SourceFile {
  return ts.createSourceFile(s.path, s.text, ts.ScriptTarget.Latest, true);
}

function stringArg(n: ts.Node | undefined): string | null {
  return n && ts.isStringLiteralLike(n) ? n.text : null;
}

/** Every module a source names: import and export declarations, `import x = require()`, `require()` and `import()` anywhere. */
export function importsOf(s: Source): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    let spec: string | null = null;
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) spec = stringArg(n.moduleSpecifier);
    else if (ts.isExternalModuleReference(n)) spec = stringArg(n.expression);
    else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))) {
      spec = stringArg(n.arguments[0]);
    }
    if (spec !== null) found.push(spec);
    ts.forEachChild(n, visit);
  };
  visit(parse(s));
  return found;
}

/** Imports that reach a folder of lib/ not below the importer's (`rank`: the layers, bottom up), or leave lib/. */
export function layerViolations(sources: Source[], rank: Record<string, number>): string[] {
  const wrong: string[] = [];
  for (const s of sources) {
    const from = s.path.split('/')[0];
    for (const spec of importsOf(s).filter((x) => x.startsWith('.'))) {
      const target = posix.normalize(posix.join(dirname(s.path), spec));
      const to = target.split('/')[0]; // a folder, also when named without a file ('../server')
      if (target.startsWith('..') || !(to === from || rank[to] < rank[from])) wrong.push(`${s.path} imports ${spec}`);
    }
  }
  return wrong;
}

function linesOf(src: ts.SourceFile, n: ts.Node): number {
  return src.getLineAndCharacterOfPosition(n.getEnd()).line - src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
}

function where(s: Source, src: ts.SourceFile, n: ts.Node): string {
  return `${s.path}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
}

/**
 * What breaks the size limits: functions, files and classes (their lines, and the
 * members declared in their body). `exceptions`: let through for now, each with its
 * reason: a path ('core/a.ts') lets its file and every class in it through, a path
 * and a class name ('core/a.ts#C') that class only.
 */
export function sizeViolations(sources: Source[], limits: Limits, exceptions: Record<string, string> = {}): string[] {
  const wrong: string[] = [];
  for (const s of sources) {
    const src = parse(s);
    const excepted = s.path in exceptions;
    const fileLines = src.getLineAndCharacterOfPosition(src.getEnd()).line + 1;
    if (fileLines > limits.fileLines && !excepted) wrong.push(`${s.path}: ${fileLines} lines`);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body && linesOf(src, n) > limits.functionLines) wrong.push(`${where(s, src, n)}: a function of ${linesOf(src, n)} lines`);
      if (ts.isClassLike(n) && !excepted && !(`${s.path}#${n.name?.text}` in exceptions) && overClassLimits(src, n, limits)) {
        wrong.push(`${where(s, src, n)}: class ${n.name?.text ?? '(anonymous)'} of ${linesOf(src, n)} lines and ${n.members.length} members`);
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return wrong;
}

function overClassLimits(src: ts.SourceFile, n: ts.ClassLikeDeclaration, limits: Limits): boolean {
  return linesOf(src, n) > limits.classLines || n.members.length > limits.classMembers;
}

/** The classes ('core/a.ts#C') of `sources` over the class limits, excepted or not: an exception for one that is not is stale. */
export function classesOverLimits(sources: Source[], limits: Limits): string[] {
  const over: string[] = [];
  for (const s of sources) {
    const src = parse(s);
    const visit = (n: ts.Node): void => {
      if (ts.isClassLike(n) && overClassLimits(src, n, limits)) over.push(`${s.path}#${n.name?.text ?? '(anonymous)'}`);
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return over;
}
