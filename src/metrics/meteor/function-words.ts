/**
 * English function words. METEOR 1.5 weighs content words by delta and function words by 1 - delta
 * using its own list (data/function-words, not shipped with any npm package); this is a hand-made
 * list of the closed-class words (articles, pronouns, prepositions, conjunctions, auxiliaries,
 * common adverbs and clitics) that covers what captions contain. It is one source of the gap to the
 * published METEOR numbers (see docs/metrics.md).
 */
export const FUNCTION_WORDS: ReadonlySet<string> = new Set(
  `a an the this that these those some any each every all both either neither no none another other
  such what which who whom whose whatever whichever whoever
  i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself
  she her hers herself it its itself they them their theirs themselves one ones
  about above across after against along amid among amongst around as at before behind below beneath
  beside besides between beyond by despite down during except for from in inside into like near of off
  on onto opposite out outside over past per round since than through throughout till to toward towards
  under underneath unlike until up upon via with within without
  and but or nor so yet if because although though while whereas unless whether once whenever wherever
  am is are was were be been being have has had having do does did doing will would shall should can
  could may might must ought 's 're 've 'll 'd 'm n't not ca wo
  there here where when why how then now also too very just only even still again ever never
  much many more most few fewer less least several enough lot lots own same
  `
    .split(/\s+/)
    .filter(Boolean),
);
