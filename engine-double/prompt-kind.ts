import { IM_END, IM_START } from '../mel/chat.js';
import { ANSWER_FORMAT_INSTRUCTION, CHAINED_STEP_INSTRUCTIONS } from '../mel/prompts.js';

// What a sample request asks for, recognised from the decoded prompt text (the project's own prompt builders in
// mel/prompts.ts, rendered as ChatML by mel/chat.ts).

export type PromptKind =
  | { kind: 'rollout'; question: string }
  | { kind: 'replay'; question: string }
  /** `step` is null for the single-call prompt, else the chained step (0, 1 or 2). */
  | { kind: 'reflection'; question: string; step: number | null }
  | { kind: 'other' };

const MESSAGE = new RegExp(`${escape(IM_START)}(\\w+)\\n([\\s\\S]*?)${escape(IM_END)}`, 'g');
const ANSWER_SUFFIX = `\n\n${ANSWER_FORMAT_INSTRUCTION}`;
const REPLAY_OPENING = 'A prior study has supplied internal reference information';
const REPLAY_QUESTION = new RegExp(`Answer the following question: ([\\s\\S]*)${escape(ANSWER_SUFFIX)}$`);
const CONTRAST_QUESTION = /<question> ([\s\S]*?) <\/question>/;
const BOXED_REQUEST = '\\boxed{}';
const SENTENCE_BREAK = /[.?!:]\s+|\n+/g;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The contents of the user turns of a ChatML prompt, in order. */
export function userMessages(promptText: string): string[] {
  return [...promptText.matchAll(MESSAGE)].filter((m) => m[1] === 'user').map((m) => m[2] ?? '');
}

function chainedStep(lastUser: string): number | null {
  const step = CHAINED_STEP_INSTRUCTIONS.findIndex((instruction) => lastUser.endsWith(instruction));
  return step === -1 ? null : step;
}

/**
 * The problem of a user turn that ends with a one-sentence request for a \boxed{} answer in any wording, such as
 * another trainer's math prompt ("<problem> Write your answer in \boxed{} format."): the text before that sentence.
 */
export function boxedRequestQuestion(message: string): string | undefined {
  const text = message.trimEnd();
  const at = text.lastIndexOf(BOXED_REQUEST);
  if (at === -1) return undefined;
  const breaks = [...text.matchAll(SENTENCE_BREAK)];
  if (breaks.some((b) => b.index > at)) return undefined; // another sentence follows the request
  const last = breaks.at(-1);
  const question = last === undefined ? '' : text.slice(0, last.index + last[0].length).trim();
  return question === '' ? undefined : question;
}

export function classifyPrompt(promptText: string): PromptKind {
  const users = userMessages(promptText);
  const first = users[0];
  const last = users.at(-1);
  if (first === undefined || last === undefined) return { kind: 'other' };
  const contrast = CONTRAST_QUESTION.exec(first);
  if (contrast && first.includes('<judge>')) {
    return { kind: 'reflection', question: contrast[1] ?? '', step: chainedStep(last) };
  }
  if (last.startsWith(REPLAY_OPENING)) {
    const question = REPLAY_QUESTION.exec(last)?.[1];
    return question === undefined ? { kind: 'other' } : { kind: 'replay', question };
  }
  if (last.endsWith(ANSWER_SUFFIX))
    return { kind: 'rollout', question: last.slice(0, -ANSWER_SUFFIX.length) };
  const question = boxedRequestQuestion(last);
  return question === undefined ? { kind: 'other' } : { kind: 'rollout', question };
}
