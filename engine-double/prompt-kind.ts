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
  return { kind: 'other' };
}
