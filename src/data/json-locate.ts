import { type JSONPath, printParseErrorCode, visit } from "jsonc-parser";

/** 1-based line and column of a spot in a JSON text. */
export interface JsonSpot {
  line: number;
  column: number;
}

/**
 * Where JSON.parse failed. Node's own message gives a position only for some errors and never a line,
 * so the text is re-scanned with jsonc-parser (strict: no comments, no trailing commas) on this error path only.
 */
export function locateJsonSyntaxError(text: string): (JsonSpot & { problem: string }) | undefined {
  let found: (JsonSpot & { problem: string }) | undefined;
  visit(
    text,
    {
      onError: (code, _offset, _length, startLine, startCharacter) => {
        found ??= { line: startLine + 1, column: startCharacter + 1, problem: printParseErrorCode(code) };
      },
      onComment: (_offset, _length, startLine, startCharacter) => {
        found ??= { line: startLine + 1, column: startCharacter + 1, problem: "CommentNotAllowed" };
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return found;
}

/**
 * Line of the value at `path` (e.g. ["images", 3, "sentences"]), or of the closest enclosing value that exists.
 * Only called to word an error, so a second pass over a large file is acceptable.
 */
export function locateJsonPath(text: string, path: readonly (string | number)[]): JsonSpot | undefined {
  let best: { depth: number; spot: JsonSpot } | undefined;
  const consider = (current: JSONPath, line: number, column: number): void => {
    let depth = 0;
    while (depth < current.length && depth < path.length && current[depth] === path[depth]) depth += 1;
    // Only prefixes of the wanted path count; deeper matches replace shallower ones.
    if (depth === current.length && (best === undefined || depth > best.depth)) {
      best = { depth, spot: { line: line + 1, column: column + 1 } };
    }
  };
  const isPrefix = (current: JSONPath): boolean =>
    current.length <= path.length && current.every((part, index) => part === path[index]);
  visit(text, {
    // Returning false skips the children of containers that are not on the wanted path.
    onObjectBegin: (_o, _l, line, column, pathSupplier) => {
      const current = pathSupplier();
      consider(current, line, column);
      return isPrefix(current);
    },
    onArrayBegin: (_o, _l, line, column, pathSupplier) => {
      const current = pathSupplier();
      consider(current, line, column);
      return isPrefix(current);
    },
    // jsonc-parser only ends a skip inside its end callbacks, so they must exist even if they do nothing.
    onObjectEnd: () => undefined,
    onArrayEnd: () => undefined,
    onObjectProperty: (property, _o, _l, line, column, pathSupplier) => {
      consider([...pathSupplier(), property], line, column);
    },
    onLiteralValue: (_v, _o, _l, line, column, pathSupplier) => consider(pathSupplier(), line, column),
  });
  return best?.spot;
}

/** `images[3].sentences[0].raw`, the way a user would search for it. */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}
