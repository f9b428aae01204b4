/**
 * Caption tokenization as the COCO caption evaluation does it (pycocoevalcap tokenizer.py): Stanford
 * PTBTokenizer 3.4.1 with `-preserveLines -lowerCase`, then the tokens in PUNCTUATION are dropped.
 *
 * Hand-written because scores must match the reference evaluation exactly and no npm tokenizer
 * reproduces PTBTokenizer's decisions (clitics split off, hyphenated words and numbers kept whole,
 * brackets and quotes normalised to PTB symbols before the drop list is applied). This is a regex
 * lexer covering the PTB rules that occur in captions; it is not a port of the JFlex grammar.
 * Known approximations: the abbreviation list is short, URLs/emails are crude, and `/` and `*` are
 * escaped (`\/`, `\*`) as 3.4.1 does by default.
 */

/** Tokens the reference drops after tokenization (tokenizer.py PUNCTUATIONS, lowercased output). */
const PUNCTUATION = new Set([
  "''",
  "'",
  "``",
  "`",
  "-lrb-",
  "-rrb-",
  "-lcb-",
  "-rcb-",
  ".",
  "?",
  "!",
  ",",
  ":",
  "-",
  "--",
  "...",
  ";",
]);

/** Abbreviations PTB keeps with their period (a short list of the ones seen in captions). */
const ABBREVIATIONS =
  "mr|mrs|ms|dr|st|jr|sr|prof|mt|ft|vs|etc|inc|corp|ltd|ave|blvd|gen|gov|sen|rep|capt|sgt|lt|col|jan|feb|mar|apr|aug|sep|sept|oct|nov|dec";

// One "segment" of a word: a number with internal separators (1,000  3.5  10:30  1/2) or letters and
// digits with word-internal apostrophes (o'clock, dog's; clitics are split off afterwards).
const SEGMENT = String.raw`\d+(?:[.,:/]\d+)+|[\p{L}\p{N}\p{M}]+(?:'[\p{L}\p{M}]+)*`;
// Hyphenated compounds stay one token (t-shirt, 10-year-old), as in PTBTokenizer 3.4.1.
const WORD = String.raw`(?:${SEGMENT})(?:-(?:${SEGMENT}))*(?:&[\p{L}]+)*`;

/** Alternatives in priority order: JS alternation is first-match, so specific rules come first. */
const LEXER = new RegExp(
  [
    String.raw`(?<space>\s+)`,
    String.raw`(?<url>https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)`,
    String.raw`(?<abbr>(?:\p{L}\.){2,}(?![\p{L}\p{N}])|(?:${ABBREVIATIONS})\.(?![\p{L}\p{N}]))`,
    String.raw`(?<decade>'\d0s(?![\p{L}\p{N}]))`,
    String.raw`(?<clitic>'(?:s|re|ve|ll|d|m)(?![\p{L}\p{N}])|n't(?![\p{L}\p{N}]))`,
    `(?<word>${WORD})`,
    String.raw`(?<ellipsis>\.{2,}|…)`,
    String.raw`(?<dash>-{2,}|[\u2012-\u2015])`,
    "(?<exclaim>[!?]+)",
    String.raw`(?<quote>\x60\x60|''|["\u201c\u201d\u201e\u00ab\u00bb]|['\x60\u2018\u2019\u201a])`,
    String.raw`(?<stars>\*+)`,
    String.raw`(?<other>[\s\S])`,
  ].join("|"),
  "guy",
);

const BRACKETS: Record<string, string> = {
  "(": "-lrb-",
  ")": "-rrb-",
  "[": "-lsb-",
  "]": "-rsb-",
  "{": "-lcb-",
  "}": "-rcb-",
};

/** Whole words PTB splits in two (PTBLexer's "cannot"/"gonna" rules). */
const SPLIT_WORDS: Record<string, [string, string]> = {
  cannot: ["can", "not"],
  gonna: ["gon", "na"],
  gotta: ["got", "ta"],
  wanna: ["wan", "na"],
  gimme: ["gim", "me"],
  lemme: ["lem", "me"],
};

const CLITIC_SUFFIX = /^(.+?)('(?:s|re|ve|ll|d|m)|n't)$/u;

function splitWord(word: string, out: string[]): void {
  const split = SPLIT_WORDS[word];
  if (split) {
    out.push(split[0], split[1]);
    return;
  }
  const clitic = CLITIC_SUFFIX.exec(word);
  if (clitic) {
    out.push(escapeSlashes(clitic[1]!), clitic[2]!);
    return;
  }
  out.push(escapeSlashes(word));
}

function escapeSlashes(token: string): string {
  return token.replace(/\//g, "\\/");
}

/** All PTB tokens of one (already lowercased) line, punctuation included. */
function lex(text: string): string[] {
  const out: string[] = [];
  LEXER.lastIndex = 0;
  for (const match of text.matchAll(LEXER)) {
    const groups = match.groups ?? {};
    const token = match[0];
    if (groups.space !== undefined) continue;
    if (groups.word !== undefined) splitWord(token, out);
    else if (groups.ellipsis !== undefined) out.push("...");
    else if (groups.dash !== undefined) out.push("--");
    else if (groups.quote !== undefined) out.push(token.length === 2 ? token : "''");
    else if (groups.stars !== undefined) out.push(token.replace(/\*/g, "\\*"));
    else if (groups.other !== undefined) out.push(BRACKETS[token] ?? escapeSlashes(token));
    else out.push(token);
  }
  return out;
}

/**
 * Tokenize one caption the way the COCO evaluation does: lowercase, PTB tokens, reference
 * punctuation dropped. Join with single spaces to get the string the metrics expect.
 * @example ptbTokenize("A dog's toy (red).") // ["a", "dog", "'s", "toy", "red"]
 */
export function ptbTokenize(text: string): string[] {
  // tokenizer.py replaces newlines so each caption stays one line of the Java tokenizer's input.
  // A right single quote inside a word is an apostrophe (dog\u2019s), as PTB normalises it.
  const normalised = text
    .replace(/\n/g, " ")
    .replace(/(?<=[\p{L}\p{N}])\u2019|\u2019(?=[\p{L}\p{N}])/gu, "'");
  return lex(normalised.toLowerCase()).filter((token) => !PUNCTUATION.has(token));
}
