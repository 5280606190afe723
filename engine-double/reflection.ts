import { pickOne, randomInt, type Random } from '../mel/random.js';
import { FIELD_LABELS, SECTION_TITLES } from '../mel/prompts.js';

// Reflections in the format mel/parser.ts accepts. They never contain a digit (headings are not numbered), so
// they can neither quote the problem's numbers nor its answer, unless `stateAnswer` writes it in on purpose.

// Short, plain wording (words the tiny tokenizer knows): a reflection stays near 200 tokens, as the warm-start
// curriculum's template reflections do.
const FAILURE_POINTS = [
  'the second step of the first solution, an error in the result.',
  'the last step of the first solution, a sign error.',
  'the first step of the first solution, the wrong order of operations.',
];
const DEFECTS = [
  'I did not check the result.',
  'I did not check the sign.',
  'I did the sum before the product.',
];
const SUCCESS_FACTORS = [
  'The second solution checked each step.',
  'The second solution kept the order of operations.',
  'The second solution checked the sign of each term.',
];
const SUMMARIES = [
  'I will check each step.',
  'I will check the sign of each term.',
  'I will do each product first.',
];
const HEURISTICS = [
  '- If a step is not checked, then check it.',
  '- When I solve a sum, I must verify the carry and borrow.',
  '- If a term moves to the other side, then change its sign.',
  '- When a product and a sum meet, I must do the product first.',
];
const EXTRA_SENTENCES = ['Each step was checked.', 'The result was checked.', 'The sign was checked.'];

function failureSection(random: Random): string[] {
  return [
    `## ${SECTION_TITLES.failure}`,
    `**${FIELD_LABELS.failurePoint}:** ${pickOne(random, FAILURE_POINTS)}`,
    `**${FIELD_LABELS.latentPattern}:** ${pickOne(random, DEFECTS)}`,
  ];
}

function successSection(random: Random, extraSentences: number): string[] {
  const extra = Array.from({ length: extraSentences }, () => pickOne(random, EXTRA_SENTENCES));
  return [`## ${SECTION_TITLES.success}`, [pickOne(random, SUCCESS_FACTORS), ...extra].join(' ')];
}

function summarySection(random: Random): string[] {
  return [`## ${SECTION_TITLES.summary}`, pickOne(random, SUMMARIES)];
}

function heuristicsSection(random: Random): string[] {
  const first = randomInt(random, 0, HEURISTICS.length - 1);
  const items = [0, 1].map((i) => HEURISTICS[(first + i) % HEURISTICS.length] ?? '');
  return [`## ${SECTION_TITLES.heuristics}`, ...items];
}

/** A well-formed single-call reflection; `extraSentences` lengthens it. */
export function reflectionText(random: Random, extraSentences = 0): string {
  return [
    ...failureSection(random),
    ...successSection(random, extraSentences),
    ...summarySection(random),
    ...heuristicsSection(random),
  ].join('\n');
}

/** One of a few shapes the parser rejects: a missing section, an empty one, or unstructured text. */
export function unparseableReflectionText(random: Random): string {
  const shape = randomInt(random, 0, 2);
  if (shape === 0)
    return [...failureSection(random), ...successSection(random, 0), ...summarySection(random)].join('\n');
  if (shape === 1) {
    return [
      ...failureSection(random),
      ...successSection(random, 0),
      ...summarySection(random),
      `## ${SECTION_TITLES.heuristics}`,
    ].join('\n');
  }
  return `${pickOne(random, SUMMARIES)} ${pickOne(random, EXTRA_SENTENCES)}`;
}

/** "31/24" -> "\frac{31}{24}": the answer in another form than the ground truth's, as a model may write it. */
function asLatex(answer: string): string {
  const fraction = /^(-?\d+)\/(\d+)$/.exec(answer.trim());
  return fraction ? `\\frac{${fraction[1]}}{${fraction[2]}}` : answer;
}

/** `text` with the answer boxed in its success analysis (unchanged without one: chained steps 0 and 2). */
export function stateAnswer(text: string, answer: string): string {
  const heading = `## ${SECTION_TITLES.success}\n`;
  const at = text.indexOf(heading);
  if (at < 0) return text;
  const end = at + heading.length;
  return `${text.slice(0, end)}The second solution reached \\boxed{${asLatex(answer)}}. ${text.slice(end)}`;
}

/** Chained mode: the output of step 0 (bifurcation), 1 (critique) or 2 (summary and heuristics). */
export function chainedStepText(random: Random, step: number, parseable: boolean): string {
  if (step === 0) return `**${FIELD_LABELS.failurePoint}:** ${pickOne(random, FAILURE_POINTS)}`;
  if (step === 1) {
    const [heading = '', , defect = ''] = failureSection(random);
    return [heading, defect, ...successSection(random, 0)].join('\n');
  }
  const summary = summarySection(random);
  return (parseable ? [...summary, ...heuristicsSection(random)] : summary).join('\n');
}
