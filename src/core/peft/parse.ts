// adapter_config.json parsed with source ranges (jsonc-parser), tolerant of CRLF, comments, trailing commas, unsorted and
// unknown keys, so diagnostics can sit on the exact JSON value and quick fixes can make minimal edits.
// Reference: huggingface/peft src/peft/config.py (PeftConfigMixin.from_pretrained / from_json_file).

import { getNodeValue, findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { detectAdapterFormat, normalizePeftConfig, type AdapterFormat, type PeftConfig } from './config';

/** A half-open character range [offset, offset + length) in the config text. */
export interface SourceRange {
  readonly offset: number;
  readonly length: number;
}

export interface SyntaxProblem {
  readonly message: string;
  readonly range: SourceRange;
}

export interface ParsedAdapterConfig {
  readonly text: string;
  /** Line ending the file uses; edits keep it. */
  readonly eol: '\n' | '\r\n';
  readonly root: Node | undefined;
  /** The top-level object, or null when the text is not a JSON object (what parsed is still in `root`). */
  readonly value: Record<string, unknown> | null;
  readonly format: AdapterFormat;
  /** Normalised config when the text yields an object (even with syntax errors: jsonc-parser recovers). */
  readonly config: PeftConfig | null;
  readonly syntaxErrors: readonly SyntaxProblem[];
  /** True when the bytes are not text (NUL bytes): nothing else is reported. */
  readonly binary: boolean;
}

/** Largest config we parse; real ones are about 1 KB. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function syntaxMessage(e: ParseError): string {
  switch (printParseErrorCode(e.error)) {
    case 'InvalidSymbol': return 'Invalid symbol.';
    case 'InvalidNumberFormat': return 'Invalid number.';
    case 'PropertyNameExpected': return 'Property name expected.';
    case 'ValueExpected': return 'Value expected.';
    case 'ColonExpected': return 'Colon expected.';
    case 'CommaExpected': return 'Comma expected.';
    case 'CloseBraceExpected': return 'Closing brace expected.';
    case 'CloseBracketExpected': return 'Closing bracket expected.';
    case 'EndOfFileExpected': return 'End of file expected.';
    case 'InvalidCommentToken': return 'Invalid comment.';
    case 'UnexpectedEndOfComment': return 'Unterminated comment.';
    case 'UnexpectedEndOfString': return 'Unterminated string.';
    case 'UnexpectedEndOfNumber': return 'Unexpected end of number.';
    case 'InvalidUnicode': return 'Invalid unicode escape.';
    case 'InvalidEscapeCharacter': return 'Invalid escape character.';
    case 'InvalidCharacter': return 'Invalid character in string.';
    default: return 'Syntax error.';
  }
}

/** Parse config text. Never throws: syntax errors are collected and whatever parsed is kept. */
export function parseAdapterConfig(text: string): ParsedAdapterConfig {
  const eol = /\r\n/.test(text) ? '\r\n' : '\n';
  if (text.includes('\u0000')) {
    return { text, eol, root: undefined, value: null, format: 'unknown', config: null, syntaxErrors: [], binary: true };
  }
  // A UTF-8 BOM is legal in hand-edited files; jsonc-parser treats it as an invalid symbol.
  const body = text.charCodeAt(0) === 0xfeff ? ' ' + text.slice(1) : text;
  const errors: ParseError[] = [];
  const root = parseTree(body, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true });
  const syntaxErrors = errors.map((e) => ({ message: syntaxMessage(e), range: { offset: e.offset, length: Math.max(1, e.length) } }));
  let value: Record<string, unknown> | null = null;
  if (root?.type === 'object') {
    const v: unknown = getNodeValue(root);
    if (v && typeof v === 'object' && !Array.isArray(v)) value = v as Record<string, unknown>;
  }
  const format = value ? detectAdapterFormat(value) : 'unknown';
  const config = value ? normalizePeftConfig(value) : null;
  return { text, eol, root, value, format, config, syntaxErrors, binary: false };
}

/** The node at a JSON path (e.g. ['rank_pattern', 'q_proj']), or undefined. */
export function nodeAt(parsed: ParsedAdapterConfig, path: ReadonlyArray<string | number>): Node | undefined {
  return parsed.root ? findNodeAtLocation(parsed.root, path as Array<string | number>) : undefined;
}

/** Range of the value at `path`; falls back to the key, then to the whole document (start). */
export function valueRange(parsed: ParsedAdapterConfig, path: ReadonlyArray<string | number>): SourceRange {
  const node = nodeAt(parsed, path);
  if (node) return { offset: node.offset, length: node.length };
  return documentStart(parsed);
}

/** Range of the property key at a top-level key (the quoted name), for problems about the key itself. */
export function keyRange(parsed: ParsedAdapterConfig, key: string): SourceRange {
  const node = nodeAt(parsed, [key]);
  const prop = node?.parent;
  const keyNode = prop?.type === 'property' ? prop.children?.[0] : undefined;
  if (keyNode) return { offset: keyNode.offset, length: keyNode.length };
  return documentStart(parsed);
}

/** Where to put document-level problems: the first non-blank character (the opening brace for a normal config). */
export function documentStart(parsed: ParsedAdapterConfig): SourceRange {
  const m = /\S/.exec(parsed.text);
  return { offset: m ? m.index : 0, length: m ? 1 : 0 };
}

/** 0-based line and UTF-16 column of an offset (the editor's convention). */
export function positionAt(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
    } else if (c === 13 && text.charCodeAt(i + 1) !== 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: end - lineStart };
}
